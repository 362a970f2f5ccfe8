"""Transfer-learning strategies in the runtime: a table of hooks, one entry per strategy.

The engine and the loop call `hooks_for(plan)`'s hooks (see `base.StrategyHooks`); a
strategy the table lacks is refused before any work by `engine.check_runnable`. No torch at
import: the hook modules import it inside the hooks.
"""

from __future__ import annotations

from types import MappingProxyType

from etbuilder.compiler.plan import Plan, StrategyPlan
from etbuilder.runtime.strategies.base import StrategyHooks
from etbuilder.runtime.strategies.freeze import FREEZE
from etbuilder.runtime.strategies.lora import LORA

STRATEGIES: MappingProxyType[str, StrategyHooks] = MappingProxyType(
    {
        "finetune": StrategyHooks(),
        "freeze": FREEZE,
        "lora": LORA,
    }
)
"""Strategy type -> its hooks: the strategies the runtime can run."""

_PLANNED = set(StrategyPlan.model_fields["type"].annotation.__args__)  # type: ignore[union-attr]
if not set(STRATEGIES) <= _PLANNED:  # pragma: no cover - a registry bug fails at import
    raise RuntimeError(f"STRATEGIES {sorted(STRATEGIES)} names unknown strategy types")


def hooks_for(plan: Plan) -> StrategyHooks:
    """The hooks of the plan's strategy (the engine refused unknown ones before)."""
    return STRATEGIES[plan.strategy.type]


__all__ = ["STRATEGIES", "StrategyHooks", "hooks_for"]
