"""Plan: what a run will do and cost, from the same compiler as `etb plan`, in plain words."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from etbuilder.errors import EtbError
from etbuilder.plan import Plan
from ui import wording
from ui.session import next_step, project, workspace
from ui.workspace import paths_outside

SOURCE_WORDS = {"spec": "you", "default": "default", "inferred": "from your data"}


@st.cache_data(show_spinner="Reading the data and compiling the plan...", max_entries=8)
def compiled(spec_file: str, text: str) -> str:
    """The plan of the spec file (`text` keys the cache: an edit compiles again)."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    return compile_spec(load_spec(spec_file), spec_path=spec_file).to_json()


ws = workspace()
name = project()
if name is None:
    st.stop()
spec_file = ws.spec_path(name)
st.title("Plan")
try:
    from etbuilder.spec.loader import load_spec

    outside = paths_outside(load_spec(spec_file), ws, spec_file.parent)
    if outside:
        for message in outside:
            st.error(message)
        st.stop()
    plan = Plan.from_json(compiled(str(spec_file), spec_file.read_text(encoding="utf-8")))
except EtbError as error:
    st.error("The plan cannot be made: fix this on the **Configure** page.")
    st.code(error.render(), language=None)
    st.stop()

e, s, b = plan.estimates, plan.schedule, plan.backbone
st.markdown(
    f"**{plan.spec.name}** learns **{plan.task.type.replace('_', ' ')}** by "
    f"**{plan.strategy.type}** ({wording.GLOSSARY.get(plan.strategy.type, '')}) on the "
    f"pretrained model **{b.name}** ({b.layers} layers)."
)
time_col, memory_col, params_col, steps_col = st.columns(4)
time_col.metric("Training time", wording.duration(e.seconds_total).removeprefix("about "))
memory_col.metric("Memory needed", wording.size(e.memory_bytes.get("total", 0)))
params_col.metric(
    "Weights that learn", f"{e.parameters_trainable / max(e.parameters_total, 1):.0%}"
)
steps_col.metric("Learning steps", f"{s.total_steps:,}")
st.caption(
    f"On {plan.hardware.device_name} ({plan.hardware.device}); time estimate: {e.time_basis}"
)
if plan.warnings:
    st.warning(
        "\n".join(f"- **{w.code.replace('_', ' ')}**: {w.message}" for w in plan.warnings),
        icon=":material/warning:",
    )

st.subheader("Your data")
rows = []
for p in plan.data.profiles:
    labels = ", ".join(f"{k} {v}" for k, v in list(p.label_counts.items())[:6])
    if p.target_stats:
        labels = f"{p.target_stats['min']:g} to {p.target_stats['max']:g}"
    rows.append(
        {
            "part": p.name,
            "rows": p.rows,
            "empty texts": p.empty_texts,
            "duplicates": p.duplicates,
            "answers": labels,
            "typical length (tokens)": p.lengths.p50 if p.lengths else None,
            "texts cut short": p.lengths.truncated if p.lengths else None,
        }
    )
st.dataframe(rows, hide_index=True, width="stretch")
if plan.data.split:
    st.caption(
        f"No separate validation/test file: {plan.data.split.validation:.0%} and "
        f"{plan.data.split.test:.0%} of the rows are held out to check the model."
    )

st.subheader("What the compiler decided, and why")
decisions = pd.DataFrame(
    [
        {
            "setting": wording.setting(d.key),
            "chosen": wording.value(d.value),
            "why": d.reason,
            "set by": SOURCE_WORDS.get(d.source, d.source),
        }
        for d in plan.decisions
    ]
).set_index("setting")
st.table(decisions)  # a table wraps long reasons; a data frame would cut them
with st.expander("Steps of the training"):
    for i, action in enumerate(plan.strategy.actions, 1):
        st.write(f"{i}. {action}")
    st.write(
        f"{s.epochs} pass(es) over the data, {s.steps_per_epoch:,} steps each, "
        f"{s.global_batch} examples per step."
    )
terms = wording.terms_in(
    *(d.reason for d in plan.decisions), plan.precision.used, plan.strategy.type
)
if terms:
    with st.expander("Words used here"):
        for term, meaning in terms.items():
            st.write(f"**{term}**: {meaning}")
next_step("pages/train.py", "Next: train")
