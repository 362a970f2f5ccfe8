"""Start: a template from the gallery, or an uploaded data file with its task inferred."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from etbuilder.errors import EtbError
from ui.datafile import inspect, preview
from ui.session import next_step, workspace
from ui.specform import dump, variant_types
from ui.workspace import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, WorkspaceError, project_name

ws = workspace()
st.title("Start")
st.write(
    "Begin from your own data file, or from a ready-made example. Nothing here needs YAML: "
    "the studio writes the spec for you, and you can read it on the **Configure** page."
)


def _free_name(name: str) -> str:
    taken = {p.name for p in ws.root.iterdir()}
    candidate, n = project_name(name), 1
    while candidate in taken:
        n += 1
        candidate = f"{project_name(name)}-{n}"
    return candidate


def _created(name: str) -> None:
    ws.set_current(name)
    st.session_state.pop("spec_text", None)
    st.success(f"Project **{name}** created: `{ws.spec_path(name)}`")
    next_step("pages/configure.py", "Next: configure")


def upload_tab() -> None:
    file = st.file_uploader(
        f"Data file ({', '.join(s.lstrip('.') for s in UPLOAD_SUFFIXES)}; "
        f"at most {MAX_UPLOAD_BYTES // 2**20} MB)",
        type=[s.lstrip(".") for s in UPLOAD_SUFFIXES],
        key="uploader",
    )
    if file is not None and st.session_state.get("upload_name") != file.name:
        name = _free_name(Path(file.name).stem)
        try:
            saved = ws.save_upload(name, file.name, file.getvalue())
        except WorkspaceError as error:
            st.error(str(error))
            return
        st.session_state["upload_path"] = str(saved)
        st.session_state["upload_name"] = file.name
        st.session_state["upload_project"] = name
    path_text = st.session_state.get("upload_path")
    if not path_text:
        return
    path = ws.inside(path_text)
    try:
        found, table = inspect(path)
    except EtbError as error:
        st.error(error.render())
        return
    st.caption(f"{len(table):,} rows, {len(table.columns)} columns: `{path.name}`")
    st.dataframe(preview(table), width="stretch", height=220)
    for note in found.notes:
        st.info(note)
    st.subheader("What the model should learn")
    columns = list(table.columns)
    tasks = variant_types("task")
    left, right = st.columns(2)
    with left:
        task = st.selectbox("Task", tasks, index=tasks.index(found.task), key="up_task")
        st.caption(f"Why: {found.reasons.get('task', '')}")
        text = st.multiselect(
            "Text column(s)",
            columns,
            default=[c for c in found.text if c in columns],
            key="up_text",
        )
        st.caption(f"Why: {found.reasons.get('text', '')}")
    with right:
        label_options = ["(none)", *columns]
        label_index = label_options.index(found.label) if found.label in columns else 0
        label = st.selectbox(
            "Label column (the answer)", label_options, index=label_index, key="up_label"
        )
        st.caption(f"Why: {found.reasons.get('label', '')}")
        name = st.text_input(
            "Project name", value=st.session_state.get("upload_project", ""), key="up_name"
        )
    if st.button("Create project", type="primary", key="up_create"):
        if not text:
            st.error("Choose at least one text column.")
            return
        spec_task: dict[str, Any] = {"type": task, "text": text[0] if len(text) == 1 else text}
        if label != "(none)":
            spec_task["label"] = label
        if task == found.task:
            spec_task.update(found.extra)
        project = project_name(name or path.parent.parent.name)
        folder = ws.project_dir(project)
        data_path = path.relative_to(folder) if folder in path.parents else None
        if data_path is None:
            moved = ws.save_upload(project, path.name, path.read_bytes())
            data_path = moved.relative_to(folder)
        spec = {
            "etb": 1,
            "name": project,
            "data": {"train": data_path.as_posix(), **found.data},
            "task": spec_task,
        }
        ws.write_spec(project, dump(spec))
        _created(project)


def gallery_tab() -> None:
    try:
        from etbuilder.gallery import copy_template, list_templates
    except ImportError:
        st.info("The template gallery library (`etbuilder.gallery`) is not installed.")
        return
    try:
        templates = list_templates()
    except EtbError as error:
        st.error(error.render())
        return
    columns = st.columns(3)
    for i, template in enumerate(templates):
        with columns[i % 3].container(border=True):
            st.markdown(f"**{template.name}**")
            st.caption(template.purpose or " ")
            measured = template.measured
            facts = f"{template.task} · {template.strategy}"
            if measured is not None:
                facts += f" · test {measured.metric} {measured.value:.3f}"
                if measured.train_seconds is not None:
                    facts += f" in {measured.train_seconds:.0f} s"
            st.write(facts)
            if st.button("Use this template", key=f"tpl_{template.name}"):
                project = _free_name(template.name)
                try:
                    copy_template(template.name, ws.project_dir(project))
                except EtbError as error:
                    st.error(error.render())
                    return
                _created(project)


upload, gallery = st.tabs(["Upload a data file", "Start from a template"])
with upload:
    upload_tab()
with gallery:
    gallery_tab()
