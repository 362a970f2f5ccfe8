"""Pass `lower_strategy`: the spec's strategy as parameter groups, frozen modules and actions."""

from __future__ import annotations

from pathlib import Path

from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.plan import TaskPlan
from etbuilder.compiler.strategies import LOWERINGS, LoweringInput


def head_parameters(task: TaskPlan, hidden: int) -> int:
    """Parameters of the task head: a linear layer from the pooled (or token) vector."""
    if task.type == "embedding":
        return 0
    outputs = 1 if task.type == "regression" else len(task.labels)
    return hidden * outputs + outputs


def lower_strategy(ctx: CompileContext) -> CompileContext:
    """Lower the strategy (recursively for dapt) and record what trains and what is frozen."""
    backbone = ctx.need("backbone")
    task: TaskPlan = ctx.need("task")
    base = ctx.spec_path.parent if ctx.spec_path else Path.cwd()
    info = LoweringInput(
        backbone=backbone,
        head_parameters=head_parameters(task, backbone.hidden_size),
        fingerprint=ctx.fingerprint,
        max_length=task.max_length,
        pooling=task.pooling,
        base_dir=base.resolve(),
        learning_rate=ctx.spec.train.learning_rate,
        task_type=task.type,
        labels=tuple(task.labels),
    )
    strategy = ctx.spec.strategy
    plan, notes = LOWERINGS[strategy.type](strategy, info)
    final = plan.then or plan
    total = sum(g.parameters for g in final.groups)
    ctx = ctx.decide(
        "strategy.trainable_parameters",
        final.trainable_parameters,
        f"{final.type}: {final.trainable_parameters:,} of {total:,} parameters train "
        f"({final.trainable_parameters / max(total, 1):.1%})",
    )
    for note in notes:
        ctx = ctx.decide(note.key, note.value, note.reason, note.source)
    return ctx.replace(strategy=plan)
