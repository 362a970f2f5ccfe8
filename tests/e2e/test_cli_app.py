"""`etb predict` on an app (ONNX, the default) and `etb serve --check`, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.tiny_run import cached_app

ETB = [sys.executable, "-m", "etbuilder.cli.main"]


def etb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ETB, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apps")


@pytest.mark.e2e
@pytest.mark.parametrize("task", ["classification", "pair_classification"])
def test_predict_with_app_matches_in_process_app(apps: Path, task: str, tmp_path: Path) -> None:
    from etbuilder.package.predict import predict_with_app

    app = cached_app(apps, task)
    train = app.parent.parent / "train.jsonl"
    out = tmp_path / "out.jsonl"
    done = etb("predict", str(app.parent), "--input", str(train), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "(app: " in done.stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    originals = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(originals)
    columns = ["text"] if task == "classification" else ["q1", "q2"]
    inputs = [r[columns[0]] if len(columns) == 1 else [r[c] for c in columns] for r in originals]
    expected = predict_with_app(app, inputs)
    labels = set(json.loads((app / "manifest.json").read_text())["task"]["labels"])
    for row, original, want in zip(rows, originals, expected, strict=True):
        assert {k: row[k] for k in original} == original  # input columns kept as they were
        assert row["prediction"] == want["label"] and row["prediction"] in labels
        assert row["score"] == pytest.approx(want["score"], abs=1e-6)


@pytest.mark.e2e
def test_predict_with_app_moved_away_from_its_run(apps: Path, tmp_path: Path) -> None:
    import shutil

    app = cached_app(apps, "classification")
    moved = tmp_path / "app"
    shutil.copytree(app, moved)
    data = tmp_path / "in.csv"
    data.write_text('text\nthe food was good\n"a, quoted one"\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    done = etb("predict", str(moved), "--input", str(data), "--output", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "text,prediction,score" and len(lines) == 3
    missing = tmp_path / "bad.csv"
    missing.write_text("body\nhello\n", encoding="utf-8")
    bad_out = tmp_path / "bad-out.csv"
    bad = etb("predict", str(moved), "--input", str(missing), "--output", str(bad_out))
    assert bad.returncode == 2
    assert "missing column(s) 'text'" in bad.stderr and "Traceback" not in bad.stderr
    assert not bad_out.exists() and list(tmp_path.glob(".bad-out.csv*")) == []
    again = etb("predict", str(moved), "--input", str(data), "--output", str(out))
    assert again.returncode == 2 and "the file exists already" in again.stderr


@pytest.mark.e2e
def test_serve_check_starts_the_server_and_gets_an_answer(apps: Path) -> None:
    app = cached_app(apps, "classification")
    done = etb("serve", str(app), "--check")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.split("-> ", 1)[1])
    request = json.loads((app / "examples" / "request.json").read_text(encoding="utf-8"))
    assert len(answer["predictions"]) == len(request["inputs"])
    assert all("label" in p and "scores" in p for p in answer["predictions"])


@pytest.mark.e2e
def test_serve_check_on_a_folder_without_app_is_a_clear_error(tmp_path: Path) -> None:
    done = etb("serve", str(tmp_path), "--check")
    assert done.returncode == 2
    assert "is not an app folder" in done.stderr and "Traceback" not in done.stderr
