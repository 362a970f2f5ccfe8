"""`freeze`: frozen groups untouched by training, the planned trainable count, and the planned
layer-wise learning-rate decay in the optimizer groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan, trainable_count

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

STRATEGY = "{type: freeze, layers: 1, embeddings: true, lr_decay: 0.5}"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))


def test_freeze_trains_only_the_unfrozen_layers(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from etbuilder.runtime import setup
    from etbuilder.runtime.engine import run_plan

    backbone = make_tiny_bert(tmp_path / "bert", layers=3)
    plan = compile_plan(tmp_path, backbone, STRATEGY)
    assert plan.strategy.frozen_modules == ["embeddings", "encoder.layer.0"]

    model, _new = setup.build(plan)
    assert trainable_count(model) == plan.strategy.trainable_parameters

    run_plan(plan, tmp_path / "run", quiet=True)
    before = load_file(str(backbone / "model.safetensors"))
    after = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    frozen = [k for k in before if k.startswith(("embeddings.", "encoder.layer.0."))]
    trained = [k for k in before if k.startswith("encoder.layer.2.")]
    assert frozen and trained
    for key in frozen:
        assert after[f"bert.{key}"].equal(before[key]), key
    assert any(not after[f"bert.{k}"].equal(before[k]) for k in trained)


def test_freeze_optimizer_groups_follow_the_planned_lr_scales(tmp_path: Path) -> None:
    from etbuilder.runtime import setup
    from etbuilder.runtime.optim import build_optimizer
    from etbuilder.runtime.strategies import hooks_for

    backbone = make_tiny_bert(tmp_path / "bert", layers=3)
    plan = compile_plan(tmp_path, backbone, STRATEGY)
    model, _new = setup.build(plan)
    scales = hooks_for(plan).lr_scales(plan, model)
    optimizer = build_optimizer(model, plan.schedule, lr_scales=scales)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    planned = {g.name: g.lr_scale for g in plan.strategy.groups}
    assert planned["encoder.layer.2"] == 0.5 and planned["encoder.layer.1"] == 0.25
    base = plan.schedule.learning_rate
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert id(param) not in lr_of, name
            continue
        group = "head" if not name.startswith("bert.") else ".".join(name.split(".")[1:4])
        group = "pooler" if group.startswith("pooler") else group
        assert lr_of[id(param)] == pytest.approx(base * planned[group]), name
