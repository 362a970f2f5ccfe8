"""The lowerings of the strategies that train the task model themselves (dapt runs one after its
masked-LM phase)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from etbuilder.compiler.strategies._common import Lowered, LoweringInput
from etbuilder.compiler.strategies.basic import lower_features, lower_finetune, lower_freeze
from etbuilder.compiler.strategies.distill import lower_distill
from etbuilder.compiler.strategies.lora import lower_lora

Lowering = Callable[[Any, LoweringInput], Lowered]

DOWNSTREAM_LOWERINGS: MappingProxyType[str, Lowering] = MappingProxyType(
    {
        "finetune": lower_finetune,
        "features": lower_features,
        "freeze": lower_freeze,
        "lora": lower_lora,
        "distill": lower_distill,
    }
)
"""Downstream strategy type -> its lowering."""
