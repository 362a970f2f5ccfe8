"""Pass `plan_schedule`: optimizer steps per epoch, total, warmup and the global batch."""

from __future__ import annotations

import math

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError
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
    if train.global_batch is not None:
        ctx, batch, accumulation = _split_global_batch(ctx, train.global_batch, processes)
    else:
        batch, accumulation = train.batch_size, train.accumulation
    global_batch = batch * processes * accumulation
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
        batch_size=batch,
        accumulation=accumulation,
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
        f"batch {batch} per process x {processes} process(es) x accumulation {accumulation}",
        "spec" if train.global_batch is not None else "inferred",
    )
    ctx = ctx.decide(
        "schedule.steps_per_epoch", steps, f"ceil({rows:,} training rows / {global_batch})"
    )
    ctx = ctx.decide("schedule.total_steps", total, f"{steps} steps x {train.epochs} epochs")
    ctx = ctx.decide("schedule.warmup_steps", warmup, warmup_why)
    return ctx.replace(schedule=schedule)


def _split_global_batch(
    ctx: CompileContext, global_batch: int, processes: int
) -> tuple[CompileContext, int, int]:
    """The per-process batch (the largest divisor of the per-process share that is at most
    train.batch_size) and the accumulation steps that make `global_batch` exactly."""
    train = ctx.spec.train
    if "accumulation" in train.model_fields_set:
        raise CompileError(
            f"train.global_batch ({global_batch}) derives train.accumulation, which the spec "
            f"also sets ({train.accumulation}); remove one of them"
        )
    if global_batch % processes:
        nearest = global_batch + processes - global_batch % processes
        raise CompileError(
            f"train.global_batch {global_batch} cannot be split over {processes} processes: "
            f"choose a multiple of {processes}, e.g. {nearest}"
        )
    share = global_batch // processes
    batch = min(train.batch_size, share)
    while share % batch:
        batch -= 1
    accumulation = share // batch
    why = (
        f"{global_batch} / {processes} process(es) = {share} per process, "
        f"at most {train.batch_size} at once"
    )
    ctx = ctx.decide("schedule.batch_size", batch, why)
    ctx = ctx.decide("schedule.accumulation", accumulation, f"{share} / batch {batch}")
    return ctx, batch, accumulation
