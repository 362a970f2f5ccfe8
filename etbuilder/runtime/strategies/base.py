"""The hooks a strategy gives the runtime, and the no-op defaults (finetune).

A strategy composes into the engine and the loop through these hooks only (no Trainer
subclass per strategy): `before_training` once the data is loaded; `prepare_model` after the
task model is built and the plan's frozen modules are frozen; `lr_scales` and `make_trainer`
for what trains it (a `TrainerFactory`; None: the loop's Trainer); `export_model` before the
best model is saved as `model/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from etbuilder.errors import RunError
from etbuilder.plan import BaseStrategyPlan, Plan
from etbuilder.runtime.strategies.groups import planned_lr_scales
from etbuilder.runtime.trainer_surface import TrainerFactory

S = TypeVar("S", bound=BaseStrategyPlan)


def planned(plan: Plan, kind: type[S]) -> S:
    """The plan's strategy record, checked to be a `kind` (the hooks table dispatches on the
    strategy type, so only a hand-edited plan fails here)."""
    strategy = plan.strategy
    if not isinstance(strategy, kind):
        raise RunError(
            f"strategy: this step runs a {kind.model_fields['type'].default} plan but the plan's "
            f"strategy is {strategy.type}; recompile it with `etb plan`"
        )
    return strategy


def keep_model(plan: Plan, model: Any) -> Any:
    """The model unchanged."""
    return model


def same_plan(plan: Plan, run_dir: Path, examples: Any, accelerator: Any) -> Plan:
    """Nothing to do before training: the plan as it is."""
    return plan


@dataclass(frozen=True)
class StrategyHooks:
    """What one strategy does at each hook point; the defaults do nothing."""

    before_training: Callable[[Plan, Path, Any, Any], Plan] = same_plan
    """(plan, run_dir, examples, accelerator) -> the plan to train: work before the task
    model exists (dapt's masked-LM phase, whose downstream plan is returned)."""
    prepare_model: Callable[[Plan, Any], Any] = keep_model
    """(plan, model) -> the model to train: adapters added, layers frozen or dropped."""
    lr_scales: Callable[[Plan, Any], dict[str, float]] = planned_lr_scales
    """(plan, model) -> parameter-name prefix -> learning-rate multiplier (default: the plan
    groups' `lr_scale`, such as the new head's higher rate)."""
    export_model: Callable[[Plan, Any], Any] = keep_model
    """(plan, trained model) -> the plain transformers model saved as `model/`."""
    make_trainer: TrainerFactory | None = None
    """(plan, model, data, run_dir, accelerator, log, quiet=, lr_scales=) -> what trains, with
    the `TrainerSurface`; None: the loop's Trainer."""
