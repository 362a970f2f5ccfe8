"""The strategies without adapters or teachers: finetune, features, freeze."""

from __future__ import annotations

from etbuilder.compiler.recipes import L2_GRID, L2_PATH_PATIENCE, L2_WITHOUT_VALIDATION
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
    solver, solver_why, solver_source = _solver(strategy, info)
    l2_grid = _l2_grid(solver, info)
    pooling, why, source = resolve_pooling(strategy.pooling, b, info.task_type)
    key = cache_key("features", b.path, b.name, info.fingerprint, info.max_length, pooling)
    actions = [
        "load the pretrained backbone and freeze it",
        f"encode every split once ({pooling} pooling, max_length {info.max_length}) "
        f"and cache the vectors under key {key}",
        f"train a {head_desc} head on the cached vectors "
        + (
            "with full-batch L-BFGS, for each L2 strength of "
            + ", ".join(f"{x:g}" for x in l2_grid)
            + (
                ", keeping the best on validation and stopping once "
                f"{L2_PATH_PATIENCE} strengths in a row score below it"
                if len(l2_grid) > 1
                else ""
            )
            if solver == "lbfgs"
            else "with mini-batch AdamW"
        ),
    ]
    notes = [
        note("solver", solver, solver_why, solver_source),
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
        solver=solver,
        l2_grid=list(l2_grid),
    )
    if solver == "lbfgs":
        notes.append(
            note(
                "l2_grid",
                list(l2_grid),
                "chosen on the validation split (the primary metric), strongest first; the path "
                f"stops after {L2_PATH_PATIENCE} strengths in a row below the best"
                if len(l2_grid) > 1
                else "no validation split to choose on: one middle strength",
            )
        )
    return plan, notes


def _solver(strategy: FeaturesStrategy, info: LoweringInput) -> tuple[str, str, str]:
    """L-BFGS for a linear head unless the spec asks for mini-batch training."""
    if strategy.solver == "lbfgs":
        if strategy.head != "linear":
            raise CompileError(
                "strategy.solver is lbfgs but strategy.head is mlp: L-BFGS solves a linear "
                "head only; set strategy.head: linear, or strategy.solver: adamw (or auto)"
            )
        return "lbfgs", "strategy.solver", "spec"
    if strategy.solver == "adamw":
        return "adamw", "strategy.solver", "spec"
    if strategy.head == "mlp":
        return "adamw", "an mlp head is not convex: mini-batch AdamW", "default"
    set_by_user = [
        name
        for name, value in (("learning_rate", info.learning_rate), ("epochs", info.epochs))
        if value is not None
    ]
    if set_by_user:
        return (
            "adamw",
            "train." + " and train.".join(set_by_user) + " set: mini-batch AdamW uses them",
            "spec",
        )
    return (
        "lbfgs",
        "a linear head on fixed features is a convex problem: full-batch L-BFGS solves it "
        "exactly (no learning rate or epochs to choose)",
        "default",
    )


def _l2_grid(solver: str, info: LoweringInput) -> tuple[float, ...]:
    if solver != "lbfgs":
        return ()
    return L2_GRID if info.has_validation else (L2_WITHOUT_VALIDATION,)


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
