"""Configure: forms generated from the spec's schema, beside the YAML; both edit the same spec."""

from __future__ import annotations

from typing import Any

import streamlit as st

from etbuilder.errors import SpecError
from etbuilder.spec.loader import load_spec_text
from ui.session import next_step, project, workspace
from ui.specform import (
    BASIC,
    SECTIONS,
    Field,
    all_fields,
    dump,
    fields,
    get_value,
    load_text,
    parse,
    set_value,
    show,
    with_header,
)
from ui.workspace import paths_outside

ws = workspace()
current = project()
if current is None:
    st.stop()
name: str = current
folder = ws.project_dir(name)
state = st.session_state
on_disk = ws.read_spec(name)
if state.get("spec_for") != name or state.get("spec_text") != on_disk:
    state["spec_text"] = on_disk  # another project, or the file changed (another tab, an editor)
    state["spec_for"] = name
    state["form_version"] = state.get("form_version", 0) + 1
    state["yaml_area"] = on_disk
if "yaml_area" not in state:  # Streamlit forgets a widget's value on the pages it is not on
    state["yaml_area"] = state["spec_text"]


def _save(text: str) -> None:
    state["spec_text"] = text
    ws.write_spec(name, text)


def _yaml_edited() -> None:
    _save(state["yaml_area"])
    state["form_version"] = state.get("form_version", 0) + 1


def _widget_key(path: str) -> str:
    return f"w{state.get('form_version', 0)}:{path}"


def _form_edited(field: Field) -> None:
    data = load_text(state["spec_text"])
    if data is None:
        return
    raw = state[_widget_key(field.path)]
    value = (
        parse(raw)
        if field.kind == "text" and not field.path.endswith(("name", "description"))
        else raw
    )
    set_value(data, field.path, value, field.default)
    text = with_header(state["spec_text"], dump(data))
    _save(text)
    state["yaml_area"] = text
    if field.path.endswith(".type"):  # another variant: other fields
        state["form_version"] = state.get("form_version", 0) + 1


def _zoo() -> list[tuple[str, bool]]:
    from etbuilder.zoo.listing import list_zoo

    return [(s.entry.alias, s.available_offline) for s in list_zoo()]


def widget(field: Field, data: dict[str, Any]) -> None:
    current = get_value(data, field.path, field.default)
    common: dict[str, Any] = {
        "key": _widget_key(field.path),
        "help": field.help or None,
        "on_change": _form_edited,
        "args": (field,),
    }
    label = field.title + (" *" if field.required else "")
    if field.path == "backbone.model":
        zoo = _zoo()
        options = [alias for alias, _ in zoo]
        offline = {alias for alias, ok in zoo if ok}
        if current not in options:
            options.append(str(current))
        st.selectbox(
            label,
            options,
            index=options.index(current),
            format_func=lambda a: (
                f"{a} (on this machine)"
                if a in offline
                else (a if a in dict(zoo) else f"{a} (local folder)")
            ),
            **common,
        )
    elif field.kind == "bool":
        st.checkbox(label, value=bool(current), **common)
    elif field.kind == "choice":
        options = list(field.choices)
        st.selectbox(
            label, options, index=options.index(current) if current in options else 0, **common
        )
    elif field.kind == "int" and isinstance(current, int):
        st.number_input(label, value=current, step=1, **common)
    else:
        st.text_input(label, value=show(current), **common)


st.title("Configure")
data = load_text(state["spec_text"])
form, yaml_side = st.columns([3, 2], gap="large")
with yaml_side:
    st.text_area(
        "spec.yaml (edit here or in the form)",
        key="yaml_area",
        height=520,
        on_change=_yaml_edited,
        help=f"The same file `etb run` reads: run it with `etb run {ws.spec_path(name)}`.",
    )
with form:
    advanced = st.toggle("Advanced: every setting", key="advanced")
    if data is None:
        st.warning("The YAML on the right does not read as a spec; fix it there (see below).")
    elif advanced:
        for section, tab in zip(SECTIONS, st.tabs([s.capitalize() for s in SECTIONS]), strict=True):
            with tab:
                for field in fields(section, data):
                    widget(field, data)
    else:
        every = all_fields(data)
        left, right = st.columns(2)
        for i, path in enumerate(BASIC):
            with left if i % 2 == 0 else right:
                widget(every[path], data)

st.subheader("Check")
try:
    spec = load_spec_text(
        state["spec_text"], file="spec.yaml", base_dir=folder, spec_path=folder / "spec.yaml"
    )
except SpecError as error:
    for problem in error.problems:
        where = f"line {problem.line}" if problem.line else "spec"
        text = f"**{where}** · `{problem.path or 'file'}`: {problem.message}"
        if problem.hint:
            text += f"  \nhint: {problem.hint}"
        st.error(text)
else:
    outside = paths_outside(spec, ws, folder)
    for message in outside:
        st.error(message)
    if not outside:
        st.success("The spec is valid (the same checks as `etb validate`).")
        next_step("pages/plan.py", "Next: see the plan")
