"""Lowering each transfer-learning strategy into concrete actions (a table, one function each).

A lowering gets the spec's strategy, the backbone, the head's parameter count and a few facts
from earlier passes, and returns a StrategyPlan: parameter groups with counts, frozen module
prefixes, ordered human-readable actions and the library-level options the runtime needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from etbuilder.compiler.architecture import (
    ARCHITECTURES,
    architecture,
    embedding_parameters,
    layer_parameters,
    mlm_head_parameters,
    module_shapes,
    pooler_parameters,
)
from etbuilder.compiler.plan import BackboneInfo, Decision, ParameterGroup, StrategyPlan
from etbuilder.errors import CompileError


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
    learning_rate: float
    task_type: str
    labels: tuple[str, ...]


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


def _plan(
    kind: str, groups: list[ParameterGroup], actions: list[str], **extra: Any
) -> StrategyPlan:
    frozen = [g.name for g in groups if not g.trainable]
    trainable = sum(g.parameters for g in groups if g.trainable)
    return StrategyPlan(
        type=kind,
        groups=groups,
        frozen_modules=frozen,
        trainable_parameters=trainable,
        actions=actions,
        **extra,
    )


Lowered = tuple[StrategyPlan, list[Decision]]
"""A lowered strategy and the decisions it took (key, value, reason, source)."""


def _why(key: str, value: Any, reason: str, source: str = "inferred") -> Decision:
    return Decision(key=f"strategy.{key}", value=value, reason=reason, source=source)


def cache_key(*parts: Any) -> str:
    """A short stable key over JSON-serialisable parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lower_finetune(strategy: Any, info: LoweringInput) -> Lowered:
    groups = [*backbone_groups(info), head_group(info)]
    actions = [
        "load the pretrained backbone",
        "add a freshly initialised task head",
        "train every parameter with AdamW",
    ]
    return _plan("finetune", groups, actions), []


def lower_features(strategy: Any, info: LoweringInput) -> Lowered:
    b = info.backbone
    groups = [g.model_copy(update={"trainable": False}) for g in backbone_groups(info)]
    outputs = 1 if info.task_type == "regression" else max(len(info.labels), 1)
    if strategy.head == "mlp":
        head_params = b.hidden_size * strategy.hidden + strategy.hidden
        head_params += strategy.hidden * outputs + outputs
        head_desc = f"mlp({b.hidden_size} -> {strategy.hidden} -> {outputs})"
    else:
        head_params = info.head_parameters
        head_desc = f"linear({b.hidden_size} -> {outputs})"
    groups.append(ParameterGroup(name="head", parameters=head_params, trainable=True))
    key = cache_key("features", b.path, b.name, info.fingerprint, info.max_length, info.pooling)
    actions = [
        "load the pretrained backbone and freeze it",
        f"encode every split once ({info.pooling} pooling, max_length {info.max_length}) "
        f"and cache the vectors under key {key}",
        f"train a {head_desc} head on the cached vectors",
    ]
    options = {
        "head": strategy.head,
        "hidden": strategy.hidden if strategy.head == "mlp" else None,
        "cache": "features",
        "cache_key": key,
    }
    notes = [
        _why(
            "cache_key",
            key,
            "backbone, data fingerprint, max_length and pooling: "
            "a change to any of them recomputes the cached vectors",
        )
    ]
    return _plan("features", groups, actions, options=options), notes


def lower_freeze(strategy: Any, info: LoweringInput) -> Lowered:
    b = info.backbone
    if strategy.layers > b.layers:
        raise CompileError(
            f"strategy.layers is {strategy.layers} but {b.name} has {b.layers} layers; "
            f"set strategy.layers to {b.layers} or fewer (or use strategy `features`)"
        )
    groups = [*backbone_groups(info, strategy.layers, strategy.embeddings), head_group(info)]
    if strategy.lr_decay is not None:
        groups = [_with_decay(g, strategy.lr_decay, b.layers) for g in groups]
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
    options = {
        "layers": strategy.layers,
        "embeddings": strategy.embeddings,
        "lr_decay": strategy.lr_decay,
    }
    frozen_names = [g.name for g in groups if not g.trainable]
    notes = [
        _why("frozen_modules", frozen_names, "strategy.layers and strategy.embeddings", "spec")
    ]
    return _plan("freeze", groups, actions, options=options), notes


def _with_decay(group: ParameterGroup, decay: float, layers: int) -> ParameterGroup:
    """Head and pooler at 1.0, the top layer at decay, each layer below one more factor."""
    if group.name in ("head", "pooler"):
        depth = 0
    elif group.name == "embeddings":
        depth = layers + 1
    else:
        depth = layers - int(group.name.rsplit(".", 1)[1])
    return group.model_copy(update={"lr_scale": round(decay**depth, 6)})


def lora_targets(strategy: Any, backbone: BackboneInfo) -> tuple[list[str], str]:
    """The adapted module names and why."""
    arch = architecture(backbone)
    if strategy.targets != "auto":
        unknown = [t for t in strategy.targets if module_shapes(backbone, t) is None]
        if unknown and backbone.model_type in ARCHITECTURES:
            raise CompileError(
                f"strategy.targets names {unknown}, which {backbone.model_type} layers do not "
                f"have; use some of: {', '.join(sorted(arch.linear_shapes))}"
            )
        return list(strategy.targets), "set in the spec"
    if not arch.lora_targets:
        raise CompileError(
            f"no default LoRA targets for model_type {backbone.model_type!r}; set "
            "strategy.targets to the attention projection module names (e.g. [query, value])"
        )
    return list(
        arch.lora_targets
    ), f"auto: the attention query and value projections of {backbone.model_type}"


def lora_parameters(targets: list[str], backbone: BackboneInfo, r: int, dora: bool) -> int:
    """Sum over layers and targets of r * (in + out) (+ out magnitudes for DoRA)."""
    h = backbone.hidden_size
    per_layer = 0
    for name in targets:
        for fan_in, fan_out in module_shapes(backbone, name) or ((h, h),):
            per_layer += r * (fan_in + fan_out) + (fan_out if dora else 0)
    return per_layer * backbone.layers


def lower_lora(strategy: Any, info: LoweringInput) -> Lowered:
    b = info.backbone
    targets, why = lora_targets(strategy, b)
    dora = strategy.variant == "dora"
    adapters = lora_parameters(targets, b, strategy.r, dora)
    groups = [g.model_copy(update={"trainable": False}) for g in backbone_groups(info)]
    groups += [ParameterGroup(name="lora", parameters=adapters, trainable=True), head_group(info)]
    actions = [
        "load the pretrained backbone and freeze it",
        f"add rank-{strategy.r} {strategy.variant.upper()} adapters to {', '.join(targets)} "
        f"in each of the {b.layers} layers",
        "train the adapters and the task head",
        "merge the adapters into the weights for serving",
    ]
    options = {
        "peft_type": "LORA",
        "use_dora": dora,
        "r": strategy.r,
        "lora_alpha": strategy.alpha,
        "lora_dropout": strategy.dropout,
        "target_modules": targets,
        "modules_to_save": ["head"],
        "bias": "none",
    }
    notes = [
        _why("target_modules", targets, why, "spec" if strategy.targets != "auto" else "default"),
        _why(
            "lora_parameters",
            adapters,
            f"sum over {b.layers} layers and targets of r x (in + out) with r = {strategy.r}"
            + (" plus one magnitude per output (DoRA)" if dora else ""),
        ),
    ]
    return _plan("lora", groups, actions, options=options), notes


def student_layers(teacher_layers: int, keep: int) -> list[int]:
    """Evenly spaced teacher layers: each student layer stands for a block of teacher layers
    and copies the block's top layer, so the last layer is always kept (6 -> 3: [1, 3, 5])."""
    return [(i + 1) * teacher_layers // keep - 1 for i in range(keep)]


def lower_distill(strategy: Any, info: LoweringInput) -> Lowered:
    b = info.backbone
    teacher, teacher_kind = _teacher_source(strategy.teacher, info.base_dir)
    keep = strategy.student_layers or b.layers
    if keep > b.layers:
        raise CompileError(
            f"strategy.student_layers is {keep} but {b.name} has {b.layers} layers; "
            f"use {b.layers} or fewer"
        )
    picked = student_layers(b.layers, keep)
    prefix = architecture(b).layer_prefix
    groups = [ParameterGroup(name="embeddings", parameters=embedding_parameters(b), trainable=True)]
    groups += [
        ParameterGroup(name=f"{prefix}.{i}", parameters=layer_parameters(b), trainable=True)
        for i in range(keep)
    ]
    if pooler_parameters(b):
        groups.append(
            ParameterGroup(name="pooler", parameters=pooler_parameters(b), trainable=True)
        )
    groups.append(head_group(info))
    key = cache_key("teacher-logits", teacher, info.fingerprint, info.max_length)
    actions = [
        f"load the teacher from {teacher_kind} {teacher}"
        + (" (train it first with `etb run` on that spec)" if teacher_kind == "spec" else ""),
        f"compute the teacher's logits on the training set once and cache them under key {key}",
        f"build a {keep}-layer student from {b.name}, initialised from layers {picked}",
        f"train the student on {strategy.alpha:g} x soft-target loss (temperature "
        f"{strategy.temperature:g}) + {1 - strategy.alpha:g} x hard-label loss",
    ]
    options = {
        "teacher": teacher,
        "teacher_kind": teacher_kind,
        "student_layers": picked,
        "temperature": strategy.temperature,
        "alpha": strategy.alpha,
        "cache": "teacher_logits",
        "cache_key": key,
    }
    notes = [
        _why("teacher", teacher, f"strategy.teacher resolved to a {teacher_kind}", "spec"),
        _why(
            "student_layers",
            picked,
            f"{keep} of {b.layers} layers, evenly spaced: each student layer copies the top "
            "layer of its block of teacher layers"
            + ("" if strategy.student_layers else " (student_layers unset: keep them all)"),
        ),
        _why(
            "cache_key",
            key,
            "teacher logits on the training set, keyed by teacher, data fingerprint and max_length",
        ),
    ]
    return _plan("distill", groups, actions, options=options), notes


def _teacher_source(teacher: str, base_dir: Path) -> tuple[str, str]:
    """(absolute path, `run` or `spec`); a missing or unusable source is a CompileError."""
    path = Path(teacher).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise CompileError(f"strategy.teacher: no spec file at {path}; check the path")
        return str(path), "spec"
    if (path / "plan.json").is_file():
        return str(path), "run"
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if (p / "plan.json").is_file())
        if runs:
            return str(runs[-1]), "run"
    raise CompileError(
        f"strategy.teacher: {path} is neither a run folder holding plan.json nor a spec file; "
        "give a finished run folder (runs/<name>/<timestamp>) or the teacher's spec.yaml"
    )


def lower_dapt(strategy: Any, info: LoweringInput) -> Lowered:
    b = info.backbone
    then, then_notes = LOWERINGS[strategy.then.type](strategy.then, info)
    if strategy.corpus is None:
        corpus = "the task's training texts (task-adaptive pretraining)"
        corpus_path = None
    else:
        path = Path(strategy.corpus).expanduser()
        corpus_path = str(path if path.is_absolute() else info.base_dir / path)
        if not Path(corpus_path).is_file():
            raise CompileError(f"strategy.corpus: no file at {corpus_path}; check the path")
        corpus = corpus_path + (
            f" (column {strategy.corpus_column})" if strategy.corpus_column else ""
        )
    mlm = mlm_head_parameters(b)
    groups = [
        *backbone_groups(info),
        ParameterGroup(name="mlm_head", parameters=mlm, trainable=True),
    ]
    lr = strategy.learning_rate or info.learning_rate
    actions = [
        "load the pretrained backbone",
        ("load its masked-LM head" if b.has_mlm_head else "initialise a masked-LM head"),
        f"masked-LM training on {corpus} for {strategy.steps} steps "
        f"(mask {strategy.mlm_probability:.0%} of tokens, learning rate {lr:g})",
        f"then: {then.type} on the task",
    ]
    options = {
        "corpus": corpus_path,
        "corpus_column": strategy.corpus_column,
        "steps": strategy.steps,
        "mlm_probability": strategy.mlm_probability,
        "learning_rate": lr,
        "mlm_head": "loaded" if b.has_mlm_head else "initialised",
    }
    notes = [
        _why(
            "corpus",
            corpus_path,
            "set in the spec"
            if corpus_path
            else "no corpus given: adapt on the task's own training texts (TAPT)",
            "spec" if corpus_path else "default",
        ),
        _why(
            "mlm_head",
            options["mlm_head"],
            "the backbone's weights "
            + ("ship a masked-LM head" if b.has_mlm_head else "have no masked-LM head"),
        ),
        _why(
            "learning_rate",
            lr,
            "strategy.learning_rate"
            if strategy.learning_rate
            else "strategy.learning_rate unset: train.learning_rate",
            "spec" if strategy.learning_rate else "default",
        ),
    ]
    return _plan("dapt", groups, actions, options=options, then=then), notes + then_notes


Lowering = Callable[[Any, LoweringInput], Lowered]

LOWERINGS: MappingProxyType[str, Lowering] = MappingProxyType(
    {
        "finetune": lower_finetune,
        "features": lower_features,
        "freeze": lower_freeze,
        "lora": lower_lora,
        "distill": lower_distill,
        "dapt": lower_dapt,
    }
)
"""Strategy type -> its lowering."""
