"""Ship: the app archive, its model card, and the commands that serve it."""

from __future__ import annotations

import streamlit as st

from ui.session import pick_run, project, workspace

ws = workspace()
name = project()
if name is None:
    st.stop()
st.title("Ship")
run = pick_run(ws.project_dir(name), key="ship_run", finished_only=True)
if run is None:
    st.stop()
archive, card = run / "app.tar.gz", run / "app" / "README.md"
if not archive.is_file():
    st.error(f"This run has no app.tar.gz: build it with `etb package {run}`.")
    st.stop()
left, right = st.columns(2)
with left:
    st.download_button(
        f"Download the app (app.tar.gz, {archive.stat().st_size / 2**20:.1f} MB)",
        archive.read_bytes(),
        file_name=f"{name}-app.tar.gz",
        mime="application/gzip",
        type="primary",
        key="download_app",
    )
    st.markdown("**Serve it with Python** (no torch needed)")
    st.code(
        "tar xzf app.tar.gz && cd app\npip install -r requirements.txt\n"
        "python server.py --host 127.0.0.1 --port 8000",
        language="bash",
    )
    st.markdown("**Serve it with Docker**")
    st.code(
        f"tar xzf app.tar.gz && cd app\ndocker build -t {name} .\ndocker run -p 8000:8000 {name}",
        language="bash",
    )
    st.markdown("**Ask it**")
    st.code(
        "curl -s -X POST http://127.0.0.1:8000/v1/predict \\\n"
        "  -H 'Content-Type: application/json' -d @examples/request.json",
        language="bash",
    )
with right:
    if card.is_file():
        st.download_button("Download the model card (README.md)", card.read_bytes(),
                           file_name="README.md", key="download_card")  # fmt: skip
        with st.container(height=520):
            st.markdown(card.read_text(encoding="utf-8"))
