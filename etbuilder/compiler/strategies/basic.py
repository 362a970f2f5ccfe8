"""The strategies without adapters or teachers: finetune, features, freeze."""

from __future__ import annotations

from etbuilder.compiler.strategies._common import (
    Lowered,
    LoweringInput,
    backbone_groups,
    cache_key,
    head_group,
    make_plan,
    note,
)
from etbuilder.compiler.strategies.feature_pooling import resolve_pooling
from etbuilder.errors import CompileError
from etbuilder.plan import FeaturesPlan, FinetunePlan, FreezePlan, ParameterGroup
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.spec.strategy import FeaturesStrategy, FinetuneStrategy, FreezeStrategy


def lower_finetune(strategy: FinetuneStrategy, info: LoweringInput) -> Lowered:
    groups = [*backbone_groups(info), head_group(info)]
    actions = [
        "load the pretrained backbone",
        "add a freshly initialised task head",
        "train every parameter with AdamW",
    ]
    return make_plan(FinetunePlan, groups, actions), []


def lower_features(strategy: FeaturesStrategy, info: LoweringInput) -> Lowered:
    b = info.backbone
    groups = [g.model_copy(update={"trainable": False}) for g in backbone_groups(info)]
    outputs = 1 if TASK_RULES[info.task_type].numeric else max(len(info.labels), 1)
    if strategy.head == "mlp":
        head_params = b.hidden_size * strategy.hidden + strategy.hidden
        head_params += strategy.hidden * outputs + outputs
        head_desc = f"mlp({b.hidden_size} -> {strategy.hidden} -> {outputs})"
    else:
        head_params = info.head_parameters
        head_desc = f"linear({b.hidden_size} -> {outputs})"
    groups.append(ParameterGroup(name="head", parameters=head_params, trainable=True))
    pooling, why, source = resolve_pooling(strategy.pooling, b, info.task_type)
    key = cache_key("features", b.path, b.name, info.fingerprint, info.max_length, pooling)
    actions = [
        "load the pretrained backbone and freeze it",
        f"encode every split once ({pooling} pooling, max_length {info.max_length}) "
        f"and cache the vectors under key {key}",
        f"train a {head_desc} head on the cached vectors",
    ]
    notes = [
        note("pooling", pooling, why, source),
        note(
            "cache_key",
            key,
            "backbone, data fingerprint, max_length and pooling: "
            "a change to any of them recomputes the cached vectors",
        ),
    ]
    plan = make_plan(
        FeaturesPlan,
        groups,
        actions,
        head=strategy.head,
        hidden=strategy.hidden if strategy.head == "mlp" else None,
        cache_key=key,
        pooling=pooling,
    )
    return plan, notes


def lower_freeze(strategy: FreezeStrategy, info: LoweringInput) -> Lowered:
    b = info.backbone
    if strategy.layers > b.layers:
        raise CompileError(
            f"strategy.layers is {strategy.layers} but {b.name} has {b.layers} layers; "
            f"set strategy.layers to {b.layers} or fewer (or use strategy `features`)"
        )
    groups = [*backbone_groups(info, strategy.layers, strategy.embeddings), head_group(info)]
    if strategy.lr_decay is not None:
        decay = strategy.lr_decay
        groups = [_with_decay(g, decay, b.layers) if g.trainable else g for g in groups]
    frozen = (["embeddings"] if strategy.embeddings else []) + [
        f"the lowest {strategy.layers} layers" if strategy.layers else ""
    ]
    actions = [
        "load the pretrained backbone",
        "freeze " + (" and ".join(x for x in frozen if x) or "nothing"),
        "add a freshly initialised task head",
        "train the remaining parameters"
        + (
            f" with layer-wise learning-rate decay {strategy.lr_decay:g}"
            if strategy.lr_decay is not None
            else ""
        ),
    ]
    frozen_names = [g.name for g in groups if not g.trainable]
    notes = [
        note("frozen_modules", frozen_names, "strategy.layers and strategy.embeddings", "spec")
    ]
    plan = make_plan(
        FreezePlan,
        groups,
        actions,
        layers=strategy.layers,
        embeddings=strategy.embeddings,
        lr_decay=strategy.lr_decay,
    )
    return plan, notes


def _with_decay(group: ParameterGroup, decay: float, layers: int) -> ParameterGroup:
    """Head and pooler at 1.0, the top layer at decay, each layer below one more factor."""
    if group.name in ("head", "pooler"):
        depth = 0
    elif group.name == "embeddings":
        depth = layers + 1
    else:
        depth = layers - int(group.name.rsplit(".", 1)[1])
    return group.model_copy(update={"lr_scale": round(decay**depth, 6)})
