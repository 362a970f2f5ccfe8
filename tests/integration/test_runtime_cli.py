"""`etb run`, `etb evaluate` and `etb predict` through the CLI entry point, on a tiny BERT;
the time budget and early stopping."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from etbuilder.cli.main import main
from tests.fixtures import make_tiny_bert

DATA = Path("/work/shared/data")
if not DATA.is_dir():
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

SPEC = """etb: 1
name: cli-check
description: "spam filter; support token ${{ETB_TEST_SECRET:-none}}"
data: {{train: {data}, quoting: false, split: {{validation: 0.2, test: 0.2, seed: 2}}}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}}}
train: {{epochs: 3, batch_size: 16, learning_rate: 2.0e-3, seed: 3}}
compute: {{threads: 1}}
"""
SECRET = "s3cr3t-t0ken-from-the-environment"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    model = make_tiny_bert(folder / "tiny")
    rows = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[:201]
    (folder / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(data=folder / "train.tsv", model=model), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ETB_CACHE_DIR", str(folder / "cache"))
        mp.setenv("ETB_TEST_SECRET", SECRET)
        assert main(["run", str(spec), "--output", str(folder / "run"), "--quiet"]) == 0
    return spec, folder / "run"


def test_run_records_throughput_for_the_compiler(trained: tuple[Path, Path]) -> None:
    spec, run = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["samples_per_s"] > 0 and metrics["gflops_per_s"] > 0
    assert 0.0 <= metrics["padding_fraction"] < 0.5
    throughput = json.loads((spec.parent / "cache" / "throughput.json").read_text())
    assert throughput["records"][-1]["flops_per_second"] > 0
    assert (spec.parent / "cache" / "tokens").is_dir()


def test_run_packages_the_app_into_the_run_folder(trained: tuple[Path, Path]) -> None:
    _, run = trained
    assert (run / "app" / "manifest.json").is_file()
    assert (run / "app.tar.gz").is_file()


def test_evaluate_reproduces_the_run_test_metrics(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = trained
    assert main(["evaluate", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"], abs=0.02)
    assert metrics["n"] == saved["n"]


def test_predict_writes_the_input_with_prediction_and_score(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run = trained
    source = tmp_path / "new.csv"
    source.write_text(
        'id,sentence\n1,"a gorgeous, witty, seductive movie"\n2,the plot is a dull mess\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["predict", str(run), "--input", str(source), "--output", str(out)]) == 0
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["sentence"] == "a gorgeous, witty, seductive movie"
    labels = json.loads((run / "plan.json").read_text())["task"]["labels"]
    assert all(r["prediction"] in labels for r in rows)
    assert all(0.0 < float(r["score"]) <= 1.0 for r in rows)

    jsonl_in, jsonl_out = tmp_path / "new.jsonl", tmp_path / "out.jsonl"
    jsonl_in.write_text(json.dumps({"sentence": "fine"}) + "\n", encoding="utf-8")
    assert main(["predict", str(run), "-i", str(jsonl_in), "-o", str(jsonl_out)]) == 0
    record = json.loads(jsonl_out.read_text().splitlines()[0])
    assert set(record) == {"sentence", "prediction", "score"}


def test_predict_names_a_missing_text_column(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = trained
    source = tmp_path / "bad.csv"
    source.write_text("review\nnice\n", encoding="utf-8")
    assert main(["predict", str(run), "-i", str(source), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "sentence" in err and "bad.csv" in err


def test_time_budget_stops_cleanly_with_the_best_model(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, _ = trained
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "budget"
    args = ["run", str(spec), "--output", str(out), "--quiet", "--set", "train.epochs=50"]
    args += ["--set", "deploy.package=false"]
    assert main([*args, "--set", "train.time_budget=2s"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "time_budget"
    assert metrics["steps"] < 50 * 8
    assert "accuracy" in metrics["test"]
    assert json.loads((out / "run.json").read_text())["state"] == "finished"


def test_early_stopping_ends_on_patience(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    spec, _ = trained
    out = tmp_path / "early"
    args = ["run", str(spec), "--output", str(out), "--quiet", "--set", "train.epochs=40"]
    args += ["--set", "deploy.package=false"]
    args += ["--set", "train.learning_rate=1.0e-7", "--set", "train.early_stopping.patience=1"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "early_stopping"
    assert metrics["epochs_completed"] < 40
    evals = [
        json.loads(line)
        for line in (out / "metrics.jsonl").open()
        if json.loads(line)["kind"] == "eval"
    ]
    assert len(evals) == metrics["epochs_completed"]


def test_gradient_accumulation_steps_once_per_group(
    tmp_path: Path, trained: tuple[Path, Path]
) -> None:
    spec, run = trained
    out = tmp_path / "accumulate"
    args = ["run", str(spec), "--output", str(out), "--quiet", "--set", "deploy.package=false"]
    assert main([*args, "--set", "train.accumulation=2", "--set", "train.batch_size=8"]) == 0
    plain = json.loads((run / "metrics.json").read_text())
    accumulated = json.loads((out / "metrics.json").read_text())
    # batch 16 x 1 and batch 8 x 2: the same number of optimizer steps per epoch
    assert accumulated["steps"] == plain["steps"]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["schedule"]["global_batch"] == 16
    assert accumulated["test"]["n"] == plain["test"]["n"]


def test_predict_output_reads_back_exactly_through_the_app(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    _, run = trained
    texts = [
        "a lone\rcarriage return",
        '=HYPERLINK("http://example.com","x")',
        "a windows\r\nline break",
        '"quoted", with comma',
        "@SUM(A1)",
        "plain",
    ]
    source = tmp_path / "hostile.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(
            [["id", "sentence"]] + [[str(i), t] for i, t in enumerate(texts)]
        )
    out = tmp_path / "out.csv"
    assert main(["predict", str(run / "app"), "-i", str(source), "-o", str(out)]) == 0
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    escaped = ["'" + t if t[0] in "=@" else t for t in texts]
    assert [r["sentence"] for r in rows] == escaped
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame["id"]) == [str(i) for i in range(len(texts))]
    assert list(frame["sentence"]) == escaped
    raw = tmp_path / "raw.tsv"
    args = ["predict", str(run / "app"), "-i", str(source), "-o", str(raw)]
    assert main([*args, "--no-escape-formulas"]) == 0
    assert list(pd.read_csv(raw, sep="\t", dtype=str)["sentence"]) == texts
    # the output is checked before any inference: an existing file is left as it was
    capsys.readouterr()
    assert main(args) == 2
    assert "the file exists already" in capsys.readouterr().err
    assert list(pd.read_csv(raw, sep="\t", dtype=str)["sentence"]) == texts


def _served_metadata(app: Path) -> str:
    """GET /v1/metadata from the app's own server, started as a user starts it."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(app / "server.py"), "--port", str(port), "--no-access-log"],
        cwd=app,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                url = f"http://127.0.0.1:{port}/v1/metadata"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return str(answer.read().decode("utf-8"))
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_app_discloses_no_build_path_and_no_private_environment_value(
    trained: tuple[Path, Path],
) -> None:
    _, run = trained
    app = run / "app"
    build_root = str(run.parent)  # the test's temporary folder: data, model, run all under it
    texts = {
        str(p.relative_to(app)): p.read_text(encoding="utf-8")
        for p in app.rglob("*")
        if p.is_file() and p.suffix in (".json", ".md", ".sh", ".txt")
    }
    served = _served_metadata(app)
    texts["/v1/metadata"] = served
    for name, text in texts.items():
        assert build_root not in text, name
        assert SECRET not in text, name
    metadata = json.loads(served)
    assert metadata["description"] == "${ETB_TEST_SECRET}"
    manifest = json.loads(texts["manifest.json"])
    assert not os.path.isabs(manifest["created_from"])
    # the run folder itself keeps what it was given: it is the user's, not shared
    assert SECRET in (run / "plan.json").read_text(encoding="utf-8")


def test_run_json_says_failed_when_packaging_fails(
    trained: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import etbuilder.package.builder
    from etbuilder.errors import PackageError

    def broken_export(run_dir: Path, **kwargs: object) -> Path:
        raise PackageError("the ONNX export failed", hint="see the log")

    spec, _ = trained
    monkeypatch.setattr(etbuilder.package.builder, "build_app", broken_export)
    out = tmp_path / "run"
    args = ["run", str(spec), "--output", str(out), "--quiet", "--set", "train.epochs=1"]
    assert main(args) == 1
    assert "the ONNX export failed" in capsys.readouterr().err
    status = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert status["state"] == "failed"
    assert (
        status["error"] == "packaging: PackageError: the ONNX export failed\n    hint: see the log"
    )


def test_predict_with_the_torch_model_streams_in_chunks(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    from etbuilder.runtime.scoring import predict_file

    _, run = trained
    lines = (DATA / "sst2_glue" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:40]
    texts = [line.split("\t")[0] for line in lines] + ["a lone\rcarriage return", "=1+2"]
    source = tmp_path / "new.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(
            [["id", "sentence"]] + [[str(i), t] for i, t in enumerate(texts)]
        )
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    assert main(["predict", str(run), "--torch", "-i", str(source), "-o", str(whole)]) == 0
    assert predict_file(run, source, chunked, chunk_rows=7) == len(texts)  # 6 chunks
    with (
        open(whole, encoding="utf-8", newline="") as a,
        open(chunked, encoding="utf-8", newline="") as b,
    ):
        first, second = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["id"] for r in first] == [str(i) for i in range(len(texts))]
    assert [r["sentence"] for r in first] == [*texts[:-1], "'=1+2"]
    assert [r["prediction"] for r in first] == [r["prediction"] for r in second]
    for one, other in zip(first, second, strict=True):
        assert float(one["score"]) == pytest.approx(float(other["score"]), abs=1e-4)


def test_sigterm_during_predict_leaves_no_partial_file(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    _, run = trained
    source = tmp_path / "many.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["id", "sentence"])
        writer.writerows([i, f"review number {i}, a fine film"] for i in range(200_000))
    out = tmp_path / "out" / "labelled.csv"
    root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    command = [sys.executable, "-m", "etbuilder.cli.main", "predict", str(run / "app")]
    child = subprocess.Popen(
        [*command, "-i", str(source), "-o", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".labelled.csv.partial-*")) and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "etb: interrupted" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []  # neither the output nor a partial file
