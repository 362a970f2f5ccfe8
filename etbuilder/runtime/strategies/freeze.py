"""`freeze`: the plan's frozen modules are frozen by `setup.build`; the optimizer applies the
plan's layer-wise learning-rate decay (one lr_scale per parameter group)."""

from __future__ import annotations

from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import Plan
from etbuilder.runtime.strategies.base import StrategyHooks


def check_frozen(plan: Plan, model: Any) -> Any:
    """Re-apply the plan's frozen modules (idempotent) and refuse a plan that froze nothing it
    named: a group name that matches no parameter is a plan/model mismatch."""
    from etbuilder.runtime.models import trainable_model
    from etbuilder.runtime.optim import freeze_modules

    for group in plan.strategy.frozen_modules:
        if not freeze_modules(trainable_model(model), [group]):
            raise RunError(
                f"strategy freeze: the plan freezes `{group}` but the model has no parameters "
                f"under that name; recompile the plan with `etb plan` for this backbone"
            )
    return model


FREEZE = StrategyHooks(prepare_model=check_frozen)
