"""`features` pools as the backbone was trained: mean over the tokens when the checkpoint has
no trained pooler (sentence-transformers models, weights without `pooler.*`), the pooler
otherwise; padding never changes a text's vector; the packaged ONNX app computes the same
function as the run's torch model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import make_tiny_bert, minilm_folder
from tests.integration.strategies_setup import DATA, compile_plan

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

TRAIN = "{epochs: 4, batch_size: 16, learning_rate: 1.0e-2, warmup: 0, seed: 7}"


def tiny_bert_without_pooler(folder: Path) -> Path:
    """A tiny random BERT whose safetensors hold no `pooler.*` weights."""
    from safetensors.torch import load_file, save_file

    make_tiny_bert(folder)
    weights = load_file(str(folder / "model.safetensors"))
    kept = {k: v for k, v in weights.items() if not k.startswith("pooler.")}
    assert len(kept) < len(weights)
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def _decision(plan: object, key: str) -> dict:
    found = [d for d in plan.decisions if d.key == key]  # type: ignore[attr-defined]
    assert len(found) == 1, key
    return found[0].model_dump()


def test_auto_pooling_follows_the_checkpoint(tmp_path: Path) -> None:
    with_pooler = make_tiny_bert(tmp_path / "with")
    without = tiny_bert_without_pooler(tmp_path / "without")
    plans = {
        name: compile_plan(tmp_path, folder, "{type: features}")
        for name, folder in [("with", with_pooler), ("without", without)]
    }
    assert plans["with"].strategy.pooling == "pooler"
    assert plans["without"].strategy.pooling == "mean"
    decision = _decision(plans["without"], "strategy.pooling")
    assert decision["value"] == "mean" and "no trained pooler" in decision["reason"]
    # the pooling is part of the cache key: the same data and backbone, another key
    explicit = compile_plan(tmp_path, with_pooler, "{type: features, pooling: mean}")
    assert explicit.strategy.pooling == "mean"
    assert _decision(explicit, "strategy.pooling")["source"] == "spec"
    assert explicit.strategy.cache_key != plans["with"].strategy.cache_key
    # the head decision names the pooling the head really reads
    head = _decision(plans["without"], "task.head")["value"]
    assert "on mean pooling (strategy features)" in head
    assert "on cls pooling" in _decision(plans["with"], "task.head")["value"]


def test_auto_pooling_reads_the_sentence_transformers_config() -> None:
    from etbuilder.compiler.strategies.feature_pooling import (
        pooler_weights,
        sentence_transformers_pooling,
    )

    folder = minilm_folder()
    assert sentence_transformers_pooling(folder) == "mean"  # though it ships a pooler
    assert pooler_weights(folder) is True


def test_mean_pooling_ignores_padding(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from etbuilder.runtime.feature_pooling import install_pooling

    folder = tiny_bert_without_pooler(tmp_path / "bert")
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=2).eval()
    install_pooling(model, "mean")
    captured: list[torch.Tensor] = []
    model.classifier.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    text = "a short text"
    longer = "a much longer text that forces several padding tokens onto the first one"
    pairs = [(text, "its pair"), (longer, "another, longer second text of the pair")]
    with torch.no_grad():
        model(**tokenizer([text], return_tensors="pt"))
        model(**tokenizer([text, longer], padding=True, return_tensors="pt"))
        model(**tokenizer([pairs[0][0]], [pairs[0][1]], return_tensors="pt"))
        batch = tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True)
        model(**batch.convert_to_tensors("pt"))
    alone, padded, pair_alone, pair_padded = captured
    assert padded.shape == (2, 32)
    assert torch.allclose(alone[0], padded[0], atol=1e-5)
    assert torch.allclose(pair_alone[0], pair_padded[0], atol=1e-5)
    # it is the mean of the token vectors, not the pooler's output
    with torch.no_grad():
        hidden = model.bert(**tokenizer([text], return_tensors="pt")).last_hidden_state
    assert torch.allclose(alone[0], hidden[0].mean(0), atol=1e-6)


def test_mean_pooled_features_run_packages_the_same_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from etbuilder.package import build_app
    from etbuilder.package.app_template.inference import Predictor
    from etbuilder.plan import Plan
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.models import load_trained

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = tiny_bert_without_pooler(tmp_path / "bert")
    plan = compile_plan(tmp_path, backbone, "{type: features}", train=TRAIN)
    assert plan.strategy.pooling == "mean"
    run = tmp_path / "run"
    run_plan(plan, run, quiet=True)
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["etb_pooling"] == "mean"

    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    model: Any = load_trained(Plan.from_json((run / "plan.json").read_text()), run / "model")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(run / "model"))
    batch = tokenizer(texts, padding=True, truncation=True, max_length=48, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.numpy()
    labels = [model.config.id2label[i] for i in logits.argmax(-1).tolist()]
    assert labels == [r["prediction"] for r in rows]  # etb's loader = the run's evaluation

    build_app(run, formats=["onnx"])  # parity-checked export; ships the fp32 graph too
    predictor = Predictor(run / "app", model_file="onnx/model.onnx", threads=1)
    served = predictor.predict(texts)
    assert [p["label"] for p in served] == labels
    probs = np.array([[p["scores"][label] for label in predictor.labels] for p in served])
    expected = torch.softmax(torch.from_numpy(logits).double(), -1).numpy()
    order = [predictor.labels.index(model.config.id2label[i]) for i in range(logits.shape[1])]
    assert np.allclose(probs[:, order], expected, atol=1e-4)
    assert "`etb_pooling`" in (run / "app" / "README.md").read_text()  # the model card says so

    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_pretrained(str(run / "model")).eval()
    with torch.no_grad():  # without etbuilder the pooler is read: another function
        assert not np.allclose(plain(**batch).logits.numpy(), logits, atol=1e-3)
