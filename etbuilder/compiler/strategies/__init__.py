"""Lowering each transfer-learning strategy into concrete actions (a table, one function each).

A lowering gets the spec's strategy, the backbone, the head's parameter count and a few facts
from earlier passes, and returns a StrategyPlan (parameter groups with counts, frozen module
prefixes, ordered human-readable actions, the library-level options the runtime needs) and the
decisions it took.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import MappingProxyType
from typing import Any

from etbuilder.compiler.strategies._common import Lowered, LoweringInput, cache_key
from etbuilder.compiler.strategies.basic import lower_features, lower_finetune, lower_freeze
from etbuilder.compiler.strategies.dapt import lower_dapt
from etbuilder.compiler.strategies.distill import lower_distill, student_layers
from etbuilder.compiler.strategies.lora import lora_parameters, lora_targets, lower_lora

Lowering = Callable[[Any, LoweringInput], Lowered]

DOWNSTREAM: MappingProxyType[str, Lowering] = MappingProxyType(
    {
        "finetune": lower_finetune,
        "features": lower_features,
        "freeze": lower_freeze,
        "lora": lower_lora,
        "distill": lower_distill,
    }
)
"""The strategies that may follow dapt, and their lowerings."""

LOWERINGS: MappingProxyType[str, Lowering] = MappingProxyType(
    {**DOWNSTREAM, "dapt": partial(lower_dapt, downstream=DOWNSTREAM)}
)
"""Strategy type -> its lowering."""

__all__ = [
    "LOWERINGS",
    "Lowered",
    "Lowering",
    "LoweringInput",
    "cache_key",
    "lora_parameters",
    "lora_targets",
    "student_layers",
]
