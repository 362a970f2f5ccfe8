"""Pass `plan_schedule`: optimizer steps per epoch, total, warmup and the global batch."""

from __future__ import annotations

import math

from etbuilder.compiler.context import CompileContext
from etbuilder.plan import EarlyStoppingPlan, SchedulePlan
from etbuilder.spec._base import parse_duration


def plan_schedule(ctx: CompileContext) -> CompileContext:
    """steps/epoch = ceil(rows / (batch x processes x accumulation)); warmup from a fraction
    of the total (below 1) or a number of steps (1 or more)."""
    train = ctx.spec.train
    compute = ctx.need("compute")
    profile = ctx.profile("train")
    rows = profile.rows if profile else 0
    processes = compute.world_size
    global_batch = train.batch_size * processes * train.accumulation
    steps = max(1, math.ceil(rows / global_batch))
    total = steps * train.epochs
    if train.warmup < 1:
        warmup = math.ceil(train.warmup * total)
        warmup_why = f"{train.warmup:g} of {total} total steps, rounded up"
    else:
        warmup = min(int(train.warmup), total)
        warmup_why = f"{int(train.warmup)} steps" + (
            f", capped at the {total} total steps" if train.warmup > total else ""
        )
    schedule = SchedulePlan(
        epochs=train.epochs,
        batch_size=train.batch_size,
        accumulation=train.accumulation,
        processes=processes,
        global_batch=global_batch,
        steps_per_epoch=steps,
        total_steps=total,
        warmup_steps=warmup,
        learning_rate=train.learning_rate,
        schedule=train.schedule,
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        seed=train.seed,
        deterministic=train.deterministic,
        time_budget_s=parse_duration(train.time_budget) if train.time_budget else None,
        checkpoint_every=train.checkpoint_every,
        eval_every=train.eval_every,
        keep_checkpoints=train.keep_checkpoints,
        early_stopping=(
            EarlyStoppingPlan(**train.early_stopping.model_dump()) if train.early_stopping else None
        ),
    )
    ctx = ctx.decide(
        "schedule.global_batch",
        global_batch,
        f"batch {train.batch_size} x {processes} process(es) x accumulation {train.accumulation}",
    )
    ctx = ctx.decide(
        "schedule.steps_per_epoch", steps, f"ceil({rows:,} training rows / {global_batch})"
    )
    ctx = ctx.decide("schedule.total_steps", total, f"{steps} steps x {train.epochs} epochs")
    ctx = ctx.decide("schedule.warmup_steps", warmup, warmup_why)
    return ctx.replace(schedule=schedule)
