"""What every lowering shares: its input, the backbone's parameter groups, plan assembly."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from etbuilder.plan import (
    BackboneInfo,
    BaseStrategyPlan,
    Decision,
    ParameterGroup,
    Plan,
    StrategyPlan,
)
from etbuilder.zoo.architecture import (
    architecture,
    embedding_parameters,
    layer_parameters,
    pooler_parameters,
)


@dataclass(frozen=True)
class LoweringInput:
    """What a lowering may read besides the strategy itself."""

    backbone: BackboneInfo
    head_parameters: int
    fingerprint: str
    """The data fingerprint: keys caches."""
    max_length: int
    pooling: str
    base_dir: Path
    """Relative teacher/corpus paths resolve against this (the spec's folder)."""
    learning_rate: float | None
    """train.learning_rate as the spec sets it (None: the compiler chooses it later)."""
    epochs: int | None
    """train.epochs as the spec sets it."""
    has_validation: bool
    """Whether a validation split exists (an L-BFGS head chooses its L2 strength on it)."""
    task_type: str
    labels: tuple[str, ...]
    teacher_plan: Plan | None = None
    """A distill teacher given as a spec: its plan (`compile_spec` compiles it first)."""


def backbone_groups(
    info: LoweringInput, frozen_layers: int = 0, freeze_embeddings: bool = False
) -> list[ParameterGroup]:
    """Embeddings, each layer and the pooler; the lowest `frozen_layers` layers frozen."""
    b = info.backbone
    prefix = architecture(b).layer_prefix
    groups = [
        ParameterGroup(
            name="embeddings", parameters=embedding_parameters(b), trainable=not freeze_embeddings
        )
    ]
    per_layer = layer_parameters(b)
    groups += [
        ParameterGroup(name=f"{prefix}.{i}", parameters=per_layer, trainable=i >= frozen_layers)
        for i in range(b.layers)
    ]
    if pooler_parameters(b):
        groups.append(
            ParameterGroup(
                name="pooler", parameters=pooler_parameters(b), trainable=frozen_layers < b.layers
            )
        )
    return groups


def head_group(info: LoweringInput) -> ParameterGroup:
    return ParameterGroup(name="head", parameters=info.head_parameters, trainable=True)


P = TypeVar("P", bound=BaseStrategyPlan)


def make_plan(kind: type[P], groups: list[ParameterGroup], actions: list[str], **extra: Any) -> P:
    """The strategy record `kind` with its groups, frozen modules, trainable count and actions;
    `extra` holds the strategy's own settings."""
    frozen = [g.name for g in groups if not g.trainable]
    trainable = sum(g.parameters for g in groups if g.trainable)
    return kind(
        groups=groups,
        frozen_modules=frozen,
        trainable_parameters=trainable,
        actions=actions,
        **extra,
    )


Lowered = tuple[StrategyPlan, list[Decision]]
"""A lowered strategy and the decisions it took (key, value, reason, source)."""


def note(key: str, value: Any, reason: str, source: str = "inferred") -> Decision:
    return Decision(key=f"strategy.{key}", value=value, reason=reason, source=source)


def cache_key(*parts: Any) -> str:
    """A short stable key over JSON-serialisable parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
