"""Lowering each transfer-learning strategy into concrete actions (a table, one function each).

A lowering gets the spec's strategy, the backbone, the head's parameter count and a few facts
from earlier passes, and returns its strategy's plan record (parameter groups with counts,
frozen module prefixes, ordered human-readable actions, the library-level settings the runtime
needs) and the decisions it took.
"""

from __future__ import annotations

from types import MappingProxyType

from etbuilder.compiler.strategies._common import Lowered, LoweringInput, cache_key
from etbuilder.compiler.strategies.dapt import lower_dapt
from etbuilder.compiler.strategies.distill import student_layers
from etbuilder.compiler.strategies.downstream import DOWNSTREAM_LOWERINGS, Lowering
from etbuilder.compiler.strategies.lora import lora_parameters, lora_targets

LOWERINGS: MappingProxyType[str, Lowering] = MappingProxyType(
    {**DOWNSTREAM_LOWERINGS, "dapt": lower_dapt}
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
