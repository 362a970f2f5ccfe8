"""The studio's entry point: `etb ui` runs `streamlit run ui/app.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only ui/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

PAGES = ROOT / "ui" / "pages"

st.set_page_config(
    page_title="etbuilder studio", page_icon=":material/model_training:", layout="wide"
)
navigation = st.navigation(
    [
        st.Page(PAGES / "start.py", title="Start", icon=":material/upload_file:", default=True),
        st.Page(PAGES / "configure.py", title="Configure", icon=":material/tune:"),
        st.Page(PAGES / "plan.py", title="Plan", icon=":material/checklist:"),
        st.Page(PAGES / "train.py", title="Train", icon=":material/play_circle:"),
        st.Page(PAGES / "results.py", title="Results", icon=":material/monitoring:"),
        st.Page(PAGES / "try_it.py", title="Try it", icon=":material/chat:"),
        st.Page(PAGES / "ship.py", title="Ship", icon=":material/package_2:"),
    ]
)
with st.sidebar:
    from ui.session import workspace

    ws = workspace()
    current = ws.current()
    projects = ws.projects()
    if projects:
        chosen = st.selectbox(
            "Project", projects, index=projects.index(current) if current in projects else 0
        )
        if chosen != current:
            ws.set_current(chosen)
    st.caption(f"Workspace: `{ws.root}`")
navigation.run()
