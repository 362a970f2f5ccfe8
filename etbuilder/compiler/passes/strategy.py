"""Pass `lower_strategy`: the spec's strategy as parameter groups, frozen modules and actions."""

from __future__ import annotations

from pathlib import Path

from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.strategies import LOWERINGS, LoweringInput
from etbuilder.plan import FeaturesPlan, TaskPlan, final_strategy
from etbuilder.plan.tasks import TASK_RULES


def head_parameters(task: TaskPlan, hidden: int) -> int:
    """Parameters of the task head: a linear layer from the pooled (or token) vector."""
    rule = TASK_RULES[task.type]
    if rule.model == "encoder":
        return 0
    outputs = 1 if rule.numeric else len(task.labels)
    return hidden * outputs + outputs


def lower_strategy(ctx: CompileContext) -> CompileContext:
    """Lower the strategy (recursively for dapt) and record what trains and what is frozen."""
    backbone = ctx.need("backbone")
    task: TaskPlan = ctx.need("task")
    base = ctx.spec_path.parent if ctx.spec_path else Path.cwd()
    validation = ctx.profile("validation")
    info = LoweringInput(
        backbone=backbone,
        head_parameters=head_parameters(task, backbone.hidden_size),
        fingerprint=ctx.fingerprint,
        max_length=task.max_length,
        pooling=task.pooling,
        base_dir=base.resolve(),
        learning_rate=ctx.spec.train.learning_rate,
        epochs=ctx.spec.train.epochs,
        has_validation=bool(validation and validation.rows),
        task_type=task.type,
        labels=tuple(task.labels),
        teacher_plan=ctx.teacher_plan,
    )
    strategy = ctx.spec.strategy
    plan, notes = LOWERINGS[strategy.type](strategy, info)
    final = final_strategy(plan)
    total = sum(g.parameters for g in final.groups)
    ctx = ctx.decide(
        "strategy.trainable_parameters",
        final.trainable_parameters,
        f"{final.type}: {final.trainable_parameters:,} of {total:,} parameters train "
        f"({final.trainable_parameters / max(total, 1):.1%})",
    )
    for note in notes:
        ctx = ctx.decide(note.key, note.value, note.reason, note.source)
    ctx = ctx.replace(strategy=plan)
    if not isinstance(final, FeaturesPlan):
        return ctx
    return _head_reads_strategy_pooling(ctx, final.pooling, task.pooling)


def _head_reads_strategy_pooling(
    ctx: CompileContext, strategy_pooling: str, task_pooling: str
) -> CompileContext:
    """`features` may pool differently from the task's default (mean for a sentence encoder):
    the `task.head` decision then names the pooling the head really reads."""
    if strategy_pooling not in ("mean", "cls"):
        return ctx
    if strategy_pooling == task_pooling:
        return ctx
    head = next((d for d in ctx.decisions if d.key == "task.head"), None)
    if head is None or not isinstance(head.value, str):
        return ctx
    marker = f"on {task_pooling} pooling"
    if marker not in head.value:
        return ctx
    value = head.value.replace(marker, f"on {strategy_pooling} pooling (strategy features)")
    fixed = head.model_copy(update={"value": value})
    return ctx.replace(decisions=tuple(fixed if d is head else d for d in ctx.decisions))
