"""The new head's learning-rate multiplier (the plan's `head` group `lr_scale`) reaches the
optimizer under every strategy the loop trains: a bare classifier (finetune), through the peft
wrapper (lora: only the trained copy of the head, not the adapters) and a cut student
(distill)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))


def _with_head_scale(plan: Any, scale: float) -> Any:
    groups = [
        g.model_copy(update={"lr_scale": scale}) if g.name == "head" else g
        for g in plan.strategy.groups
    ]
    return plan.model_copy(update={"strategy": plan.strategy.model_copy(update={"groups": groups})})


def _rates(plan: Any) -> dict[str, float]:
    from etbuilder.runtime import setup
    from etbuilder.runtime.optim import build_optimizer
    from etbuilder.runtime.strategies import hooks_for

    model, _new = setup.build(plan)
    optimizer = build_optimizer(
        model, plan.schedule, lr_scales=hooks_for(plan).lr_scales(plan, model)
    )
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    return {n: lr_of[id(p)] for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("strategy", ["{type: finetune}", "{type: lora, r: 4}"])
def test_the_head_trains_at_its_planned_multiple_of_the_rate(strategy: str, tmp_path: Path) -> None:
    tiny = make_tiny_bert(tmp_path / "bert")
    plan = _with_head_scale(compile_plan(tmp_path, tiny, strategy), 10.0)
    base = plan.schedule.learning_rate
    rates = _rates(plan)
    head = [n for n in rates if "classifier." in n]
    body = [n for n in rates if "classifier." not in n]
    assert head and body
    assert all(rates[n] == pytest.approx(10 * base) for n in head), head
    assert all(rates[n] == pytest.approx(base) for n in body)
    if "lora" in strategy:
        assert all("modules_to_save" in n for n in head)
        assert all("lora_" in n for n in body)


def test_a_distilled_students_new_head_trains_at_its_planned_multiple(tmp_path: Path) -> None:
    from etbuilder.runtime.engine import run_plan

    tiny = make_tiny_bert(tmp_path / "bert", layers=3)
    teacher = compile_plan(tmp_path, tiny, "{type: finetune}", train="{epochs: 1, seed: 7}")
    run_plan(teacher, tmp_path / "teacher", quiet=True)
    strategy = f"{{type: distill, teacher: {tmp_path / 'teacher'}, student_layers: 1}}"
    plan = _with_head_scale(compile_plan(tmp_path, tiny, strategy), 4.0)
    base = plan.schedule.learning_rate
    rates = _rates(plan)
    assert any(n.startswith("classifier.") for n in rates)
    for name, rate in rates.items():
        assert rate == pytest.approx(4 * base if name.startswith("classifier.") else base), name
