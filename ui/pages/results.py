"""Results: scores, confusion matrix, per-class table, worst errors, plots; runs compared."""

from __future__ import annotations

import streamlit as st

from etbuilder.report.worst_errors import worst_errors
from ui import results
from ui.runner import list_runs, view_run
from ui.session import next_step, pick_run, project, workspace

ws = workspace()
name = project()
if name is None:
    st.stop()
folder = ws.project_dir(name)
st.title("Results")
run = pick_run(folder, key="results_run", finished_only=True)
if run is None:
    st.stop()
if results.is_study(run):
    st.subheader("Tune history")
    st.caption("Every trial of the search; the best one's settings are in best.yaml.")
    st.dataframe(results.trials(run), hide_index=True, width="stretch")
    best = run / "best.yaml"
    if best.is_file():
        st.code(best.read_text(encoding="utf-8"), language="yaml")
    for image in sorted(run.glob("*.png")):
        st.image(str(image), caption=image.stem.replace("_", " "))
    st.stop()
metrics = results.read_json(run / "metrics.json")
plan = results.read_plan(run)
if not metrics or plan is None:
    st.error(f"{run} holds no metrics.json or plan.json: the run did not finish.")
    st.stop()
metric = plan.task.metric
test = metrics.get("test") or {}
cols = st.columns(3)
if isinstance(test.get(metric), int | float):
    cols[0].metric(
        f"Test {metric}", f"{test[metric]:.3f}", help="Scored once, on rows the model never saw."
    )
if isinstance(metrics.get("train_seconds"), int | float):
    cols[1].metric("Training time", f"{metrics['train_seconds']:.0f} s")
cols[2].metric("Test examples", f"{test.get('n', '')}")

overview, errors, plots, compare = st.tabs(["Scores", "Worst errors", "Plots", "Compare runs"])
with overview:
    left, right = st.columns(2)
    with left:
        st.caption("All scores")
        st.dataframe(results.scores(metrics), hide_index=True, width="stretch")
    with right:
        matrix = results.confusion(metrics, list(plan.task.labels or []))
        if matrix:
            st.caption("Confusion matrix (test): rows are the truth, columns the model's answer")
            st.dataframe(matrix, width="stretch")
        classes = results.per_class(metrics)
        if classes:
            st.caption("Per class (test)")
            st.dataframe(classes, hide_index=True, width="stretch")
with errors:
    lines = worst_errors(plan.task.type, results.predictions(run))
    st.markdown("\n".join(lines) if lines else "No errors on the test set.")
with plots:
    images = sorted((run / "plots").glob("*.png"))
    if not images:
        st.write("This run drew no plots.")
    for left_image, right_image in zip(images[::2], [*images[1::2], None], strict=False):
        a, b = st.columns(2)
        a.image(str(left_image), caption=left_image.stem.replace("_", " "))
        if right_image is not None:
            b.image(str(right_image), caption=right_image.stem.replace("_", " "))
    report = run / "report.md"
    if report.is_file():
        st.download_button("Download the full report (report.md)", report.read_bytes(), "report.md")
with compare:
    finished = [r for r in list_runs(folder) if view_run(r).state == "finished"]
    st.dataframe(results.comparison(finished), hide_index=True, width="stretch")
next_step("pages/try_it.py", "Next: try it")
