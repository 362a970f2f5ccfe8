"""Transfer-learning strategies in the runtime: a table of hooks, one entry per strategy.

The engine and the loop call `hooks_for(plan)`'s hooks (see `base.StrategyHooks`); a
strategy the table lacks is refused before any work by `engine.check_runnable`. No torch at
import: the hook modules import it inside the hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from etbuilder.plan import STRATEGY_TYPES, Plan
from etbuilder.report.rundir import MetricsLog
from etbuilder.runtime.strategies.base import StrategyHooks
from etbuilder.runtime.strategies.freeze import FREEZE
from etbuilder.runtime.strategies.lora import LORA
from etbuilder.runtime.trainer_surface import Data, TrainerSurface


def _features_prepare(plan: Plan, model: Any) -> Any:
    from etbuilder.runtime.strategies.features import check_head

    return check_head(plan, model)


def _features_trainer(
    plan: Plan,
    model: Any,
    data: Data,
    run_dir: Path,
    accelerator: Any,
    log: MetricsLog,
    *,
    quiet: bool,
    lr_scales: Mapping[str, float],
) -> TrainerSurface:
    """FeatureTrainer trains the head alone at the base learning rate (no `lr_scales`)."""
    from etbuilder.runtime.strategies.features import FeatureTrainer

    return FeatureTrainer(plan, model, data, run_dir, accelerator, log, quiet=quiet)


FEATURES = StrategyHooks(prepare_model=_features_prepare, make_trainer=_features_trainer)
"""features: its module imports torch, so the table holds these lazy entry points."""


def _distill_prepare(plan: Plan, model: Any) -> Any:
    from etbuilder.runtime.strategies.distill import truncate

    return truncate(plan, model)


def _distill_trainer(
    plan: Plan,
    model: Any,
    data: Data,
    run_dir: Path,
    accelerator: Any,
    log: MetricsLog,
    *,
    quiet: bool,
    lr_scales: Mapping[str, float],
) -> TrainerSurface:
    from etbuilder.runtime.strategies.distill import distill_trainer

    return distill_trainer(
        plan, model, data, run_dir, accelerator, log, quiet=quiet, lr_scales=lr_scales
    )


DISTILL = StrategyHooks(prepare_model=_distill_prepare, make_trainer=_distill_trainer)
"""distill: lazy entry points, like features."""


def _dapt_adapt(plan: Plan, run_dir: Path, examples: Any, accelerator: Any) -> Plan:
    from etbuilder.runtime.strategies.dapt import adapt

    return adapt(plan, run_dir, examples, accelerator)


DAPT = StrategyHooks(before_training=_dapt_adapt)
"""dapt: the masked-LM phase, then the downstream strategy's own hooks (the plan it returns)."""

STRATEGIES: MappingProxyType[str, StrategyHooks] = MappingProxyType(
    {
        "finetune": StrategyHooks(),
        "freeze": FREEZE,
        "lora": LORA,
        "features": FEATURES,
        "distill": DISTILL,
        "dapt": DAPT,
    }
)
"""Strategy type -> its hooks: the strategies the runtime can run."""

if not set(STRATEGIES) <= STRATEGY_TYPES:  # pragma: no cover - a registry bug fails at import
    raise RuntimeError(f"STRATEGIES {sorted(STRATEGIES)} names unknown strategy types")


def hooks_for(plan: Plan) -> StrategyHooks:
    """The hooks of the plan's strategy (the engine refused unknown ones before)."""
    return STRATEGIES[plan.strategy.type]


__all__ = ["STRATEGIES", "StrategyHooks", "TrainerSurface", "hooks_for"]
