"""Train: `etb run` in the background, followed live from its run folder; cancel; any tab."""

from __future__ import annotations

import streamlit as st

from etbuilder.errors import EtbError
from etbuilder.plan import Plan
from etbuilder.spec.loader import load_spec
from ui.runner import VERBS, RunView, cancel_run, list_runs, log_tail, start_run, view_run
from ui.session import next_step, project, workspace
from ui.workspace import paths_outside

STATE_WORDS = {
    "starting": "Starting: reading the data and compiling the plan",
    "running": "Training",
    "packaging": "Trained; building the prediction app",
    "finished": "Finished",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "stopped": "Stopped",
}

ws = workspace()
name = project()
if name is None:
    st.stop()
folder = ws.project_dir(name)
st.title("Train")


def _available_verbs() -> list[str]:
    from etbuilder.cli.main import COMMANDS

    return [v for v in VERBS if v in COMMANDS]


def show_run(view: RunView) -> None:
    st.markdown(f"**Run `{view.name}`**: {STATE_WORDS.get(view.state, view.state)}")
    train = [r for r in view.records if r.get("kind") == "train" and r.get("loss") is not None]
    evals = [r for r in view.records if r.get("kind") == "eval"]
    total = 0
    try:
        plan = Plan.from_json((view.folder / "plan.json").read_text(encoding="utf-8"))
        total = plan.schedule.total_steps
    except (OSError, ValueError):
        plan = None
    if view.active and total:
        done = max((int(r.get("step", 0)) for r in view.records), default=0)
        st.progress(min(done / total, 1.0), text=f"step {done:,} of {total:,}")
    if view.state == "failed" or view.state == "stopped":
        st.error(f"The run failed: {view.message.splitlines()[0] if view.message else ''}")
        st.code(log_tail(view.folder) or view.message, language=None)
    elif view.state == "cancelled":
        st.warning(view.message)
    elif view.state == "finished":
        st.success("Finished: the model is trained, tested and packaged.")
    if train or evals:
        loss_col, metric_col = st.columns(2)
        with loss_col:
            st.caption("Training loss by step (lower is better)")
            if train:
                st.line_chart(
                    {"step": [r["step"] for r in train], "loss": [r["loss"] for r in train]},
                    x="step",
                    y="loss",
                    height=220,
                )
        with metric_col:
            metric = plan.task.metric if plan else ""
            key = f"validation/{metric}"
            points = [r for r in evals if isinstance(r.get(key), int | float)]
            st.caption(f"Validation {metric} at each check (higher is better)")
            if len(points) == 1:
                st.metric(
                    f"validation {metric} after step {points[0]['step']}", f"{points[0][key]:.3f}"
                )
            elif points:
                st.line_chart(
                    {"step": [r["step"] for r in points], metric: [r[key] for r in points]},
                    x="step",
                    y=metric,
                    height=220,
                )
    if view.active and st.button("Cancel this run", key=f"cancel_{view.name}"):
        cancel_run(view.folder)
        st.rerun()
    if view.state == "finished":
        next_step("pages/results.py", "Next: results")


def _refusal() -> str | None:
    """Why the spec cannot start a run from the studio (invalid, or reads outside), if so."""
    try:
        spec = load_spec(folder / "spec.yaml")
    except EtbError as error:
        return "The spec is not valid; fix it on the **Configure** page:\n\n" + error.render()
    outside = paths_outside(spec, ws, folder)
    return "\n\n".join(outside) if outside else None


runs = list_runs(folder)
latest = view_run(runs[0]) if runs else None
busy = latest is not None and latest.active
refused = _refusal()
verbs = _available_verbs()
with st.container(border=True):
    left, right = st.columns([3, 1])
    with left:
        verb = "run"
        if "tune" in verbs and "tune:" in ws.read_spec(name):
            verb = st.radio("What to start", verbs, horizontal=True, key="verb")
        st.markdown(
            f"Trains, tests and packages **{name}** in the background: you may close "
            "the page and come back."
        )
        st.caption(f"The same as, in `{folder}`:")
        st.code(f"etb {verb} spec.yaml --output runs/<time>", language="bash")
    with right:
        if st.button("Start training", type="primary", disabled=busy or bool(refused), key="start"):
            start_run(folder, verb)
            st.rerun()
        if busy:
            st.caption("A run is in progress.")

if refused:
    st.error(refused)

if runs:
    chosen = st.selectbox("Run", [r.name for r in runs], key="train_run")
    run_dir = folder / "runs" / chosen

    @st.fragment(run_every=2 if busy else None)
    def live() -> None:
        view = view_run(run_dir)
        show_run(view)
        if not view.active and st.session_state.get(f"was_active_{view.name}"):
            st.session_state[f"was_active_{view.name}"] = False
            st.rerun()
        st.session_state[f"was_active_{view.name}"] = view.active

    live()
