"""Try it: predictions from the run's packaged app, through the app's own inference code."""

from __future__ import annotations

import json

import streamlit as st

from etbuilder.errors import EtbError
from etbuilder.package.predict import predict_with_app
from ui.session import next_step, pick_run, project, workspace

ws = workspace()
name = project()
if name is None:
    st.stop()
st.title("Try it")
run = pick_run(ws.project_dir(name), key="try_run", finished_only=True)
if run is None:
    st.stop()
app = run / "app"
if not (app / "manifest.json").is_file():
    st.error("This run has no packaged app (deploy.package is false): package it with "
             f"`etb package {run}`.")  # fmt: skip
    st.stop()
manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
pair = manifest["inputs"]["kind"] == "pair"
examples = json.loads((app / "examples" / "request.json").read_text(encoding="utf-8"))["inputs"]
st.caption(
    "The same code and model file the shipped app serves "
    f"(`{manifest['model']['served']}`, {manifest['model']['precision']})."
)
if pair:
    first = st.text_area(
        "First texts, one per line", "\n".join(e[0] for e in examples), key="try_a"
    )
    second = st.text_area(
        "Second texts, one per line", "\n".join(e[1] for e in examples), key="try_b"
    )
    inputs: list = [list(p) for p in zip(first.splitlines(), second.splitlines(), strict=False)]
else:
    typed = st.text_area("Texts, one per line", "\n".join(examples), height=150, key="try_texts")
    inputs = [line for line in typed.splitlines() if line.strip()]
if st.button("Predict", type="primary", key="predict") and inputs:
    try:
        answers = predict_with_app(app, inputs)
    except EtbError as error:
        st.error(error.render())
    else:
        rows = []
        for given, answer in zip(inputs, answers, strict=True):
            row = {"text": given if isinstance(given, str) else " | ".join(given)}
            for key in ("label", "labels", "value", "entities", "score"):
                if key in answer:
                    row[key] = (
                        answer[key]
                        if not isinstance(answer[key], list)
                        else json.dumps(answer[key])
                    )
            if isinstance(answer.get("scores"), dict):
                row.update({f"p({k})": v for k, v in answer["scores"].items()})
            rows.append(row)
        st.dataframe(rows, hide_index=True, width="stretch")
next_step("pages/ship.py", "Next: ship")
