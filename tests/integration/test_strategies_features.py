"""`features`: the frozen backbone runs once per split and its features are cached; the head
trains on the cache; a second run reuses it; model/ is a plain transformers classifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

TRAIN = "{epochs: 6, batch_size: 16, learning_rate: 1.0e-2, warmup: 0, seed: 7}"


def _records(run: Path, kind: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == kind]


def test_features_cache_once_train_head_and_save_a_plain_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    from etbuilder.runtime import setup
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.strategies.feature_cache import BACKBONE_PASSES

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert")
    plan = compile_plan(tmp_path, backbone, "{type: features}", train=TRAIN)
    model, _new = setup.build(plan)
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier."))
    assert head == plan.strategy.trainable_parameters

    start = BACKBONE_PASSES["count"]
    first = run_plan(plan, tmp_path / "run1", quiet=True)
    assert BACKBONE_PASSES["count"] == start + 2  # train and validation, once each
    assert list((tmp_path / "cache" / "features").glob("*.pt"))
    trains = _records(tmp_path / "run1", "train")
    assert len(trains) == 6 and trains[0]["feature_cache"] == "written"
    assert trains[-1]["loss"] < trains[0]["loss"]
    assert len(_records(tmp_path / "run1", "eval")) == 6

    second = run_plan(plan, tmp_path / "run2", quiet=True)
    assert BACKBONE_PASSES["count"] == start + 2  # the cache served the second run
    assert _records(tmp_path / "run2", "train")[0]["feature_cache"] == "hit"
    assert second.metrics["test"] == first.metrics["test"]

    before = load_file(str(backbone / "model.safetensors"))
    after = load_file(str(tmp_path / "run1" / "model" / "model.safetensors"))
    for key, value in before.items():
        assert after[f"bert.{key}"].equal(value), key
    saved = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "run1" / "model"))
    assert saved.classifier.weight.shape == (2, 32)
    assert 0.0 <= first.metrics["test"]["accuracy"] <= 1.0


def test_features_mlp_head_round_trips_through_load_and_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from etbuilder.package import build_app
    from etbuilder.plan import Plan
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.models import load_trained

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert")
    plan = compile_plan(tmp_path, backbone, "{type: features, head: mlp, hidden: 16}", train=TRAIN)
    run = tmp_path / "run"
    run_plan(plan, run, quiet=True)
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["etb_head"] == {"type": "mlp", "module": "classifier", "hidden": 16}

    model = load_trained(Plan.from_json((run / "plan.json").read_text()), run / "model").eval()
    assert isinstance(model.classifier, torch.nn.Sequential)
    assert sum(p.numel() for p in model.classifier.parameters()) == (
        plan.strategy.trainable_parameters
    )
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(run / "model"))
    batch = tokenizer([r["text"] for r in rows], padding=True, return_tensors="pt")
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    labels = [model.config.id2label[i] for i in predicted]
    assert labels == [r["prediction"] for r in rows]
    build_app(run, formats=["onnx"])  # ONNX export, parity-checked; the fp32 graph shipped too
    assert (run / "app" / "manifest.json").is_file()
    import onnx

    graph = onnx.load(str(run / "app" / "onnx" / "model.onnx")).graph
    shapes = {tuple(t.dims) for t in graph.initializer}
    assert {(16, 32), (2, 16)} & shapes or {(32, 16), (16, 2)} & shapes  # the MLP is exported


def _ner_project(folder: Path) -> Path:
    """A tiny BERT and the first 120 wnut17 training sentences (`wnut.conll`) in `folder`;
    the backbone's path."""
    backbone = make_tiny_bert(folder / "bert")
    text = (DATA / "wnut17" / "wnut17train.conll").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    sentences = [s for s in "\n".join(lines).split("\n\n") if s.strip()][:120]
    (folder / "wnut.conll").write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
    return backbone


def test_features_token_head_for_ner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec_text
    from tests.fixtures.tiny_run import CPU

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = _ner_project(tmp_path)
    spec = (
        "etb: 1\nname: ner-features\n"
        "data: {train: wnut.conll, split: {validation: 0.2, test: 0.2, stratify: false}}\n"
        f"task: {{type: ner}}\nbackbone: {{model: {backbone}, max_length: 48}}\n"
        "strategy: {type: features}\n"
        f"train: {TRAIN}\ncompute: {{threads: 1}}\n"
    )
    plan = compile_spec(load_spec_text(spec, base_dir=tmp_path), hardware=CPU)
    result = run_plan(plan, tmp_path / "run", quiet=True)
    trains = _records(tmp_path / "run", "train")
    assert trains[-1]["loss"] < trains[0]["loss"]
    assert "f1_macro" in result.metrics["test"] or "f1" in result.metrics["test"]
    assert (tmp_path / "run" / "predictions.jsonl").read_text().strip()


def test_features_token_head_by_lbfgs_fits_the_tagged_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NER with no learning rate or epochs: the L-BFGS path on the tagged tokens' vectors."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec_text
    from tests.fixtures.tiny_run import CPU

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = _ner_project(tmp_path)
    spec = (
        "etb: 1\nname: ner-lbfgs\n"
        "data: {train: wnut.conll, split: {validation: 0.2, test: 0.2, stratify: false}}\n"
        f"task: {{type: ner}}\nbackbone: {{model: {backbone}, max_length: 48}}\n"
        "strategy: {type: features}\ncompute: {threads: 1}\n"
    )
    plan = compile_spec(load_spec_text(spec, base_dir=tmp_path), hardware=CPU)
    assert plan.strategy.solver == "lbfgs"
    result = run_plan(plan, tmp_path / "run", quiet=True)
    trains = _records(tmp_path / "run", "train")
    tried = [r["l2"] for r in trains]  # the path may stop past the validation peak
    assert tried == plan.strategy.l2_grid[: len(tried)] and len(tried) >= 1
    losses = [r["loss"] for r in trains]  # weaker L2: a lower regularised optimum
    assert losses == sorted(losses, reverse=True)
    assert result.metrics["head_l2"] in tried
    assert (tmp_path / "run" / "predictions.jsonl").read_text().strip()


def test_features_linear_head_by_lbfgs_keeps_the_best_l2_on_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No learning rate or epochs in the spec: one full-batch L-BFGS fit per planned L2
    strength, the one best on validation is the saved head."""
    import torch
    from safetensors.torch import load_file

    from etbuilder.compiler.recipes import L2_PATH_PATIENCE
    from etbuilder.runtime.engine import run_plan

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert")
    plan = compile_plan(tmp_path, backbone, "{type: features}", train="{batch_size: 16, seed: 7}")
    assert plan.strategy.solver == "lbfgs"
    grid = plan.strategy.l2_grid
    result = run_plan(plan, tmp_path / "run", quiet=True)
    trains = _records(tmp_path / "run", "train")
    evals = _records(tmp_path / "run", "eval")
    tried = [r["l2"] for r in trains]
    assert tried == grid[: len(tried)] and [r["l2"] for r in evals] == tried
    assert all(r["solver"] == "lbfgs" and r["lbfgs_iterations"] > 0 for r in trains)
    losses = [r["loss"] for r in trains]  # weaker L2: a lower regularised optimum
    assert losses == sorted(losses, reverse=True)
    best = next(r for r in reversed(evals) if r.get("best"))
    assert result.metrics["head_l2"] == best["l2"]
    metric = f"validation/{plan.task.metric}"
    value = result.metrics["validation"][plan.task.metric]
    assert value == max(r[metric] for r in evals)
    # the path stops once L2_PATH_PATIENCE strengths in a row score below the best
    after = evals[tried.index(best["l2"]) + 1 :]
    if len(tried) < len(grid):
        assert result.metrics["stopped"] == "l2_path"
        assert len(after) == L2_PATH_PATIENCE and all(r[metric] <= value for r in after)
    else:
        assert len(after) <= L2_PATH_PATIENCE
    saved = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    assert torch.count_nonzero(saved["classifier.weight"]) > 0
