"""The studio's pages through Streamlit's AppTest: the same scripts a browser gets, run
in-process, with real specs, data, runs and apps (a tiny random BERT keeps runs to seconds)."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.runner import cancel_run, list_runs, start_run, view_run
from ui.workspace import WORKSPACE_VARIABLE

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")


def write_reviews(path: Path, rows: int = 80) -> None:
    rng = random.Random(3)
    good, bad = ["great", "lovely", "superb", "funny"], ["awful", "poor", "boring", "dull"]
    other = ["film", "plot", "acting", "story", "cast"]
    lines = ["review,sentiment"]
    for i in range(rows):
        words = good if i % 2 else bad
        text = f"the {rng.choice(other)} was {rng.choice(words)} and {rng.choice(words)}"
        lines.append(f"{text},{'positive' if i % 2 else 'negative'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


SPEC = """etb: 1
name: reviews
data:
  train: data/reviews.csv
task:
  type: classification
  text: review
  label: sentiment
backbone:
  model: ../models/tiny
train:
  epochs: {epochs}
  batch_size: 8
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("model") / "tiny")


def make_project(workspace: Path, tiny: Path, name: str = "reviews", epochs: int = 1) -> Path:
    folder = workspace / name
    write_reviews(folder / "data" / "reviews.csv")
    if not (workspace / "models" / "tiny").is_dir():
        shutil.copytree(tiny, workspace / "models" / "tiny")
    (folder / "spec.yaml").write_text(SPEC.format(epochs=epochs), encoding="utf-8")
    return folder


def app(workspace: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv(WORKSPACE_VARIABLE, str(workspace))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def wait_done(run: Path, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while view_run(run).active:
        assert time.monotonic() < deadline, f"run {run} still going after {timeout}s"
        time.sleep(1)
    return view_run(run).state


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Path]:
    """A workspace whose project `reviews` has one finished studio run (trained and packaged)."""
    workspace = tmp_path_factory.mktemp("workspace")
    folder = make_project(workspace, tiny_model)
    run = start_run(folder)
    state = wait_done(run)
    assert state == "finished", view_run(run).message
    yield workspace


def test_upload_shows_preview_and_inferred_task_then_writes_a_valid_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(tmp_path, monkeypatch)
    data = tmp_path / "my-reviews" / "data" / "my-reviews.csv"
    write_reviews(data)
    at.session_state["upload_path"] = str(data)
    at.session_state["upload_project"] = "my-reviews"
    at.run()
    assert not at.exception
    assert at.selectbox(key="up_task").value == "classification"
    assert at.multiselect(key="up_text").value == ["review"]
    assert at.selectbox(key="up_label").value == "sentiment"
    captions = [c.value for c in at.caption]
    assert any(c.startswith("80 rows, 2 columns") for c in captions)
    reasons = [c.removeprefix("Why: ") for c in captions if c.startswith("Why: ")]
    assert len(reasons) == 3 and all(len(r) > 8 for r in reasons)  # task, text, label
    at.selectbox(key="up_label").select("sentiment").run()
    at.button(key="up_create").click().run()
    assert any("my-reviews" in s.value for s in at.success)
    from etbuilder.spec.loader import load_spec

    spec = load_spec(tmp_path / "my-reviews" / "spec.yaml")
    assert spec.task.type == "classification" and spec.data.train.path == str(data)
    assert (tmp_path / "studio.json").is_file()  # the new project is the current one


def test_upload_of_a_broken_file_shows_the_readers_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(tmp_path, monkeypatch)
    data = tmp_path / "bad" / "data" / "bad.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text('{"text": "fine", "label": "a"}\n{"text": broken\n', encoding="utf-8")
    at.session_state["upload_path"] = str(data)
    at.run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "bad.jsonl:2" in errors


def test_a_broken_yaml_edit_shows_the_validation_message_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    make_project(tmp_path, tiny_model)
    at = app(tmp_path, monkeypatch, "pages/configure.py")
    assert any("valid" in s.value for s in at.success)
    text = at.text_area(key="yaml_area").value
    broken = text.replace("  epochs: 1\n", "  epochs: 0\n").replace(
        "  text: review", "  txet: review"
    )
    at.text_area(key="yaml_area").input(broken).run()
    errors = [e.value for e in at.error]
    assert any("**line 7**" in e and "txet" in e and "did you mean 'text'?" in e for e in errors)
    assert any("**line 12**" in e and "train.epochs" in e for e in errors)
    assert (tmp_path / "reviews" / "spec.yaml").read_text(encoding="utf-8") == broken  # kept


def test_form_and_yaml_edit_the_same_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    make_project(tmp_path, tiny_model)
    at = app(tmp_path, monkeypatch, "pages/configure.py")
    rate = next(w for w in at.text_input if w.key.endswith("train.learning_rate"))
    rate.input("2e-4").run()
    assert "learning_rate: 0.0002" in at.text_area(key="yaml_area").value
    strategy = next(s for s in at.selectbox if s.key.endswith("strategy.type"))
    assert strategy.value == "finetune"
    strategy.select("lora").run()
    at.toggle(key="advanced").set_value(True).run()
    keys = [
        w.key.split(":", 1)[1] for w in [*at.text_input, *at.selectbox, *at.number_input] if w.key
    ]
    assert "strategy.variant" in keys and "strategy.r" in keys  # lora's own knobs
    assert "strategy.teacher" not in keys  # not another strategy's
    yaml_text = at.text_area(key="yaml_area").value
    at.text_area(key="yaml_area").input(yaml_text.replace("epochs: 1", "epochs: 4")).run()
    epochs = next(n for n in at.number_input if n.key.endswith("train.epochs"))
    assert epochs.value == 4
    assert any("valid" in s.value for s in at.success)


def test_a_spec_reading_outside_the_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    folder = make_project(tmp_path / "ws", tiny_model)
    outside = tmp_path / "elsewhere.csv"
    write_reviews(outside)
    spec = (folder / "spec.yaml").read_text(encoding="utf-8")
    (folder / "spec.yaml").write_text(spec.replace("data/reviews.csv", str(outside)), "utf-8")
    for page in ("pages/configure.py", "pages/plan.py", "pages/train.py"):
        at = app(tmp_path / "ws", monkeypatch, page)
        assert any("outside the studio's workspace" in e.value for e in at.error), page
    assert at.button(key="start").disabled


def test_plan_page_shows_profile_decisions_and_estimates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    make_project(tmp_path, tiny_model)
    at = app(tmp_path, monkeypatch, "pages/plan.py")
    assert [m.label for m in at.metric] == [
        "Training time", "Memory needed", "Weights that learn", "Learning steps",
    ]  # fmt: skip
    profile, decisions = at.dataframe[0].value, at.table[0].value
    assert list(profile["part"]) == ["train", "validation", "test"]
    assert profile["rows"].sum() == 80
    assert decisions.loc["Categories to predict", "chosen"] == "negative, positive"
    assert decisions.loc["Categories to predict", "set by"] == "from your data"
    assert decisions["why"].str.len().min() > 0


def test_finished_run_shows_on_train_results_try_it_and_ship(
    finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(finished, monkeypatch, "pages/train.py")
    assert any("Finished" in s.value for s in at.success)
    at.switch_page("pages/results.py").run()
    assert not at.exception
    assert at.metric[0].label == "Test accuracy"
    scores, matrix, classes = (d.value for d in at.dataframe[:3])
    assert "accuracy" in scores["metric"].tolist()
    assert list(matrix.columns) == ["predicted negative", "predicted positive"]
    assert int(matrix.to_numpy().sum()) == 8  # the 10% test split of 80 rows
    assert sorted(classes["class"]) == ["negative", "positive"]
    at.switch_page("pages/try_it.py").run()
    at.text_area(key="try_texts").input("the plot was great\nthe cast was dull").run()
    at.button(key="predict").click().run()
    answers = at.dataframe[0].value
    assert answers["text"].tolist() == ["the plot was great", "the cast was dull"]
    assert set(answers["label"]) <= {"negative", "positive"}
    assert ((answers["p(negative)"] + answers["p(positive)"] - 1).abs() < 1e-4).all()
    at.switch_page("pages/ship.py").run()
    assert not at.exception and not at.error
    assert {b.key for b in at.get("download_button")} >= {"download_app", "download_card"}


def test_a_failing_run_shows_its_message_and_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    folder = make_project(tmp_path, tiny_model)
    (folder / "data" / "reviews.csv").write_text("review,mood\nfine,ok\n", encoding="utf-8")
    run = start_run(folder)
    assert wait_done(run, 120) == "failed"
    at = app(tmp_path, monkeypatch, "pages/train.py")
    assert any("The run failed" in e.value and "sentiment" in e.value for e in at.error)
    assert any("columns present: review, mood" in c.value for c in at.code)


def test_a_run_can_be_cancelled_and_a_new_page_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path
) -> None:
    folder = make_project(tmp_path, tiny_model, epochs=500)
    at = app(tmp_path, monkeypatch, "pages/train.py")
    at.button(key="start").click().run()
    runs = list_runs(folder)
    assert len(runs) == 1
    deadline = time.monotonic() + 120
    while view_run(runs[0]).state != "running":
        assert time.monotonic() < deadline and view_run(runs[0]).active, view_run(runs[0])
        time.sleep(0.5)
    second = app(tmp_path, monkeypatch, "pages/train.py")  # another tab, or a refresh
    assert second.button(key="start").disabled
    second.button(key=f"cancel_{runs[0].name}").click().run()
    assert wait_done(runs[0], 60) == "cancelled"
    assert not cancel_run(runs[0])  # nothing left to stop


def test_picking_a_template_writes_a_valid_spec_the_cli_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etbuilder.gallery import list_templates
    from etbuilder.spec.loader import load_spec

    at = app(tmp_path, monkeypatch)
    names = [t.name for t in list_templates()]
    cards = [b for b in at.button if b.key and b.key.startswith("tpl_")]
    assert sorted(b.key.removeprefix("tpl_") for b in cards) == sorted(names)
    text = " ".join(m.value for m in at.markdown)
    assert "**sms-spam**" in text and "classification · finetune" in text
    at.button(key="tpl_sms-spam").click().run()
    assert any("sms-spam" in s.value for s in at.success)
    spec = load_spec(tmp_path / "sms-spam" / "spec.yaml")
    assert spec.task.type == "classification"
    assert Path(spec.data.train.path).is_relative_to(tmp_path / "sms-spam")
    at.switch_page("pages/configure.py").run()
    assert any("valid" in s.value for s in at.success)
