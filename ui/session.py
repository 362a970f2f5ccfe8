"""What every page shares: the workspace, the current project, and the run it looks at."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from ui.runner import list_runs
from ui.workspace import WORKSPACE_VARIABLE, Workspace


def workspace() -> Workspace:
    """The studio's workspace (`etb ui --workspace`, default ./etb-studio)."""
    return Workspace(os.environ.get(WORKSPACE_VARIABLE) or "etb-studio")


def project() -> str | None:
    """The current project, or None (with a pointer to the Start page) when there is none."""
    name = workspace().current()
    if name is None:
        st.info("No project yet: pick a template or upload a data file on the **Start** page.")
    return name


def project_dir() -> Path | None:
    name = project()
    return workspace().project_dir(name) if name else None


def pick_run(folder: Path, *, key: str, finished_only: bool = False) -> Path | None:
    """A run of the project chosen in a select box (newest first)."""
    from ui.runner import view_run

    runs = list_runs(folder)
    if finished_only:
        runs = [r for r in runs if view_run(r).state == "finished"]
    if not runs:
        st.info("No finished run yet: start one on the **Train** page." if finished_only
                else "No run yet: start one on the **Train** page.")  # fmt: skip
        return None
    names = [r.name for r in runs]
    chosen = st.selectbox("Run", names, key=key)
    return runs[names.index(chosen)] if chosen in names else runs[0]


def next_step(page: str, label: str) -> None:
    """A link to the next page of the flow."""
    try:
        st.page_link(page, label=label, icon=":material/arrow_forward:")
    except Exception:  # a page run on its own (tests) has no navigation to link into
        st.caption(f"Next: {label}")
