"""build_app on tiny runs of every task: the app folder, ONNX parity with PyTorch, the int8
quality gate, atomic rebuilds, and the Hugging Face folder loading with transformers.pipeline."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from etbuilder.errors import PackageError, RunError
from etbuilder.package import build_app, from_texts, predict_with_app
from etbuilder.package.quality import Measurement, decide
from tests.fixtures.tiny_run import TASKS, cached_app

TEXTS = [
    "x",
    "the room was clean and the staff were kind",
    "New York food was cold, price fair — café naïve 😀 " * 3,
    "Bob",
]


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


def _manifest(app: Path) -> dict:
    return json.loads((app / "manifest.json").read_text(encoding="utf-8"))


def test_app_folder_holds_everything_to_deploy(apps_base: Path) -> None:
    app = cached_app(apps_base, "classification")
    run = app.parent
    for name in (
        "model/config.json", "model/model.safetensors", "onnx/model.onnx", "onnx/model.int8.onnx",
        "tokenizer.json", "manifest.json", "README.md", "server.py", "inference.py",
        "app_routes.py", "app_http.py", "app_metrics.py",
        "requirements.txt", "Dockerfile", "examples/request.json",
    ):  # fmt: skip
        assert (app / name).is_file(), name
    m = _manifest(app)
    assert m["task"]["type"] == "classification" and m["task"]["labels"] == ["neg", "neu", "pos"]
    assert m["task"]["max_length"] == 32
    assert m["inputs"]["max_batch_size"] == 16 and m["inputs"]["max_text_chars"] == 2000
    assert m["spec_hash"] and m["etbuilder_version"] and m["created_from"] == run.resolve().name
    assert m["model"]["served"] in ("onnx/model.onnx", "onnx/model.int8.onnx")
    assert m["model"]["reason"]
    assert m["onnx"]["parity_max_abs_diff_vs_pytorch"] <= 1e-4
    q = m["quality"]
    assert "accuracy" in q["fp32"] and "accuracy" in q["int8"] and q["batch"] in (1, 16)
    checks = [c for r in q["gate"]["recipes"] for c in r["checks"]]
    assert {c["examples"] for c in checks if c["source"].startswith("test split")} == {18}
    assert q["gate"]["batches"] == [16, 1]
    assert 0.0 <= q["agreement"] <= 1.0 and q["agreement_kind"] == "label agreement"
    assert m["run_metrics"]["accuracy"] == 0.5
    lines = (app / "requirements.txt").read_text().splitlines()
    needed = {line.split(">")[0] for line in lines if line and not line.startswith("#")}
    assert needed == {"onnxruntime", "tokenizers", "numpy"}
    docker = (app / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in docker and '"server.py"' in docker
    card = (app / "README.md").read_text()
    for needle in ("## What it decides", "`neg`", "accuracy", "curl", "urllib", "413"):
        assert needle in card, needle
    with tarfile.open(run / "app.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"app/manifest.json", "app/onnx/model.onnx", "app/server.py"} <= names
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("task", TASKS)
def test_onnx_fp32_matches_pytorch_and_int8_is_measured(apps_base: Path, task: str) -> None:
    import onnxruntime as ort
    import torch

    from etbuilder.package.export import load_torch_model, sample_inputs

    app = cached_app(apps_base, task)
    m = _manifest(app)
    model = load_torch_model(
        app / "model", task, m["task"]["options"].get("pooling", "cls"),
        m["task"]["options"].get("normalize", True),
    )  # fmt: skip
    pair = m["inputs"]["kind"] == "pair"
    feeds = sample_inputs(app / "tokenizer.json", pair, m["onnx"]["inputs"], 32, TEXTS)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(feeds[n]) for n in m["onnx"]["inputs"])).numpy()
    session = ort.InferenceSession(str(app / "onnx/model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4
    q = m["quality"]
    assert q["fp32"][m["task"]["metric"]] == pytest.approx(q["fp32"][m["task"]["metric"]])
    assert m["task"]["metric"] in q["int8"], q
    assert q["agreement"] is not None
    answer = predict_with_app(app, [list(TEXTS[:2]) if pair else TEXTS[0]])[0]
    assert m["task"]["output"] in answer, answer  # the app decodes by the manifest's output


def test_hugging_face_folder_loads_with_pipeline(apps_base: Path) -> None:
    from transformers import pipeline

    app = cached_app(apps_base, "classification")
    classify = pipeline("text-classification", model=str(app / "model"), device="cpu")
    got = [r["label"] for r in classify(TEXTS)]
    onnx = [p["label"] for p in predict_with_app(app, TEXTS, model_file="onnx/model.onnx")]
    assert got == onnx


def test_ner_entities_merge_bio_words_with_character_offsets(apps_base: Path) -> None:
    from etbuilder.package.predict import load_predictor

    predictor = load_predictor(str(cached_app(apps_base, "ner").resolve()))
    text = "Café 😀 Alice Smith flew to New York on Tuesday, said Bob."
    enc = predictor.encode([text])[0]
    want = {"Alice": "B-person", "Smith": "I-person", "New": "B-location", "York": "I-location",
            "Bob": "B-person", "Tuesday": "I-person"}  # fmt: skip
    logits = np.zeros((len(enc.ids), len(predictor.labels)), dtype=np.float32)
    for token, word in enumerate(enc.word_ids):
        if word is not None:
            start, end = enc.offsets[token]
            tag = want.get(text[start:end], "O")
            logits[token, predictor.labels.index(tag)] = 5.0
    entities = predictor.entities(logits, enc, text)

    def span(kind: str, words: str) -> tuple[str, str, int, int]:
        start = text.index(words)  # character offsets, also after non-ASCII text
        return (kind, words, start, start + len(words))

    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [
        span("person", "Alice Smith"),
        span("location", "New York"),
        span("person", "Tuesday"),  # a stray I- starts an entity, as seqeval does
        span("person", "Bob"),
    ]
    assert all(0.9 < e["score"] <= 1.0 for e in entities)


@pytest.mark.parametrize(
    ("mode", "fp32", "int8", "agreement", "served"),
    [
        ("auto", 0.900, 0.896, 0.99, "int8"),
        ("auto", 0.900, 0.894, 0.99, "fp32"),
        ("auto", 0.900, 0.950, 0.99, "int8"),
        ("int8", 0.900, 0.500, 0.50, "int8"),
        ("none", 0.900, 0.900, 1.00, "fp32"),
        ("auto", None, None, 0.996, "int8"),
        ("auto", None, None, 0.990, "fp32"),
    ],
)
def test_quality_gate(mode, fp32, int8, agreement, served) -> None:
    m = Measurement("test split", 100, "accuracy", agreement=agreement, agreement_kind="label")
    if fp32 is not None:
        m.fp32, m.int8 = {"accuracy": fp32}, {"accuracy": int8}
    choice, reason = decide(mode, m, "maximize")
    assert choice == served and reason
    mse = Measurement("t", 10, "mse", {"mse": 1.0}, {"mse": 1.004})
    assert decide("auto", mse, "minimize")[0] == "int8"
    assert decide("auto", None, "maximize") == ("fp32", decide("auto", None, "maximize")[1])


def test_options_explicit_examples_and_no_quantization(apps_base: Path, tmp_path: Path) -> None:
    run = cached_app(apps_base, "pair_classification").parent
    texts = [["a cat", "a dog"], ["the food was cold", "the food was not warm"]] * 5
    app = build_app(run, out=tmp_path / "given", examples=from_texts(texts))
    m = _manifest(app)
    assert m["quality"]["source"] == "given examples" and m["quality"]["examples"] == 10
    assert m["quality"]["fp32"] == {} and m["quality"]["agreement"] is not None
    assert (tmp_path / "given.tar.gz").is_file()
    plain = build_app(run, out=tmp_path / "plain", quantization="none")
    m = _manifest(plain)
    assert not (plain / "onnx/model.int8.onnx").exists()
    assert m["model"]["served"] == "onnx/model.onnx" and "none" in m["model"]["reason"]
    assert predict_with_app(plain, texts[:2])[0]["label"] in m["task"]["labels"]


def test_failed_build_keeps_the_previous_app(
    apps_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etbuilder.package import export, export_cache

    app = cached_app(apps_base, "regression")
    before = (app / "manifest.json").read_bytes()
    archive = (app.parent / "app.tar.gz").read_bytes()
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)
    shutil.rmtree(app.parent / export_cache.FOLDER)  # the stored export would skip exporting
    with pytest.raises(PackageError, match="differs from PyTorch"):
        build_app(app.parent)
    assert (app / "manifest.json").read_bytes() == before
    assert (app.parent / "app.tar.gz").read_bytes() == archive
    assert not [p.name for p in app.parent.iterdir() if p.name.startswith(".")]


def test_clear_errors_for_wrong_folders(apps_base: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"no plan\.json"):
        build_app(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "plan.json").write_text(
        (cached_app(apps_base, "classification").parent / "plan.json").read_text()
    )
    with pytest.raises(PackageError, match="no final model"):
        build_app(run)
    with pytest.raises(RunError, match="not an app folder"):
        predict_with_app(tmp_path, ["x"])
    with pytest.raises(RunError, match="must be a string"):
        predict_with_app(cached_app(apps_base, "classification"), [3])


def test_app_of_an_engine_run_scores_like_the_run(apps_base: Path, tmp_path: Path) -> None:
    """A run trained by the runtime packages as is, and ONNX fp32 matches its PyTorch test score."""
    from etbuilder.package.builder import load_plan
    from etbuilder.runtime.engine import run_plan

    plan = load_plan(cached_app(apps_base, "pair_classification").parent)
    run_dir = tmp_path / "engine-run"
    run_plan(plan, run_dir, quiet=True)
    app = build_app(run_dir)
    m = _manifest(app)
    metric = m["task"]["metric"]
    ran = json.loads((run_dir / "metrics.json").read_text())["test"][metric]
    assert m["run_metrics"][metric] == ran
    checks = [c for r in m["quality"]["gate"]["recipes"] for c in r["checks"]]
    on_test = [c for c in checks if c["source"].startswith("test split")]
    assert on_test and all(c["fp32"][metric] == pytest.approx(ran, abs=1e-9) for c in on_test)
    assert (run_dir / "app.tar.gz").is_file()


def test_batches_are_length_sorted_with_bounded_padding() -> None:
    from etbuilder.package.app_template.inference import MAX_PADDING, chunks

    lengths = [5, 50, 6, 7, 30, 31, 32, 5, 5, 100, *range(8, 120, 3)]
    groups = chunks(lengths)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    for g in groups:
        real = sum(lengths[i] for i in g)
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= (1 + MAX_PADDING) * real
    assert chunks([]) == [] and chunks([3]) == [[0]]
