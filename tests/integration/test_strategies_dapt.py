"""`dapt`: masked-LM on in-domain text lowers the MLM loss on held-out domain text, initialises
an MLM head when the backbone ships none, then the downstream strategy trains on the adapted
encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")


def test_dapt_adapts_the_encoder_then_trains_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import load_file

    from etbuilder.runtime.engine import run_plan

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert")  # no MLM head
    with open(DATA / "sst2_glue" / "dev.tsv", encoding="utf-8") as handle:
        lines = [line.split("\t")[0] for line in handle][1:501]
    corpus = tmp_path / "domain.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    strategy = (
        f"{{type: dapt, corpus: {corpus}, steps: 40, learning_rate: 2.0e-3, "
        "then: {type: freeze, layers: 1}}"
    )
    plan = compile_plan(tmp_path, backbone, strategy)
    assert plan.strategy.mlm_head == "initialised"
    result = run_plan(plan, tmp_path / "run", quiet=True)

    summary = json.loads((tmp_path / "run" / "dapt" / "done.json").read_text())
    assert summary["steps"] == 40 and summary["heldout_texts"] == 25
    assert summary["heldout_mlm_loss_after"] < summary["heldout_mlm_loss_before"] - 0.5, summary

    adapted = load_file(str(tmp_path / "run" / "dapt" / "model" / "model.safetensors"))
    assert any(k.startswith("cls.predictions") for k in adapted)
    original = load_file(str(backbone / "model.safetensors"))
    key = "encoder.layer.1.attention.self.query.weight"
    assert not adapted[f"bert.{key}"].equal(original[key])
    pooler = "pooler.dense.weight"  # a masked-LM model has none: the backbone's is kept
    assert adapted[f"bert.{pooler}"].equal(original[pooler])
    final = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    frozen = "encoder.layer.0.attention.self.query.weight"  # the downstream freeze keeps it
    assert final[f"bert.{frozen}"].equal(adapted[f"bert.{frozen}"])
    assert not final[f"bert.{frozen}"].equal(original[frozen])
    assert 0.0 <= result.metrics["test"]["accuracy"] <= 1.0
