"""Pass `plan_schedule`: optimizer steps per epoch, total, warmup and the global batch; the
learning rate, epochs, warmup and early stopping the spec leaves unset, from the strategy's
recipe (`compiler.recipes`) and the data's size."""

from __future__ import annotations

import math

from etbuilder.compiler.context import CompileContext, Source
from etbuilder.compiler.recipes import choose_epochs, head_rate, recipe, useful_range_warning
from etbuilder.errors import CompileError
from etbuilder.plan import (
    DaptPlan,
    EarlyStoppingPlan,
    FeaturesPlan,
    SchedulePlan,
    final_strategy,
)
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.spec._base import parse_duration

AUTO_PATIENCE = 3
"""Patience of the early stopping the compiler turns on."""
AUTO_STOPPING_EPOCHS = 5
"""The compiler turns early stopping on when it chose at least this many epochs."""


def _what(strategy: str, features: FeaturesPlan | None) -> str:
    if features is None:
        return strategy
    return f"features ({features.head} head, {features.solver})"


def plan_schedule(ctx: CompileContext) -> CompileContext:
    """steps/epoch = ceil(rows / (batch x processes x accumulation)); the learning rate and
    epochs the spec leaves unset from the strategy's recipe; warmup from a fraction of the
    total (below 1) or a number of steps (1 or more). An L-BFGS head runs one pass per L2
    strength instead of epochs."""
    train = ctx.spec.train
    compute = ctx.need("compute")
    final = final_strategy(ctx.need("strategy"))
    features = final if isinstance(final, FeaturesPlan) else None
    lbfgs = features is not None and features.solver == "lbfgs"
    r = recipe(final.type)
    what = _what(final.type, features)
    profile = ctx.profile("train")
    rows = profile.rows if profile else 0
    processes = compute.world_size
    if train.global_batch is not None:
        ctx, batch, accumulation = _split_global_batch(ctx, train.global_batch, processes)
    else:
        batch, accumulation = train.batch_size, train.accumulation
    global_batch = batch * processes * accumulation
    steps = max(1, math.ceil(rows / global_batch))
    if lbfgs:
        assert features is not None
        steps = len(features.l2_grid)
    ctx = ctx.decide(
        "schedule.global_batch",
        global_batch,
        f"batch {batch} per process x {processes} process(es) x accumulation {accumulation}",
        "spec" if train.global_batch is not None else "inferred",
    )
    ctx = ctx.decide(
        "schedule.steps_per_epoch",
        steps,
        f"one full-batch L-BFGS fit per L2 strength ({steps})"
        if lbfgs
        else f"ceil({rows:,} training rows / {global_batch})",
    )

    if lbfgs:
        epochs, learning_rate = 1, 1.0
        ctx = ctx.decide("schedule.epochs", 1, "L-BFGS runs to convergence: one pass")
        ctx = ctx.decide(
            "schedule.learning_rate",
            1.0,
            "L-BFGS searches its step along each direction (strong Wolfe): no rate to tune",
        )
    else:
        epochs_source: Source
        if train.epochs is not None:
            epochs, epochs_why, epochs_source = train.epochs, "train.epochs", "spec"
        else:
            epochs, epochs_why = _epochs(final.type, steps, rows, global_batch)
            epochs_source = "default"
        ctx = ctx.decide("schedule.epochs", epochs, epochs_why, epochs_source)
        if train.learning_rate is not None:
            learning_rate = train.learning_rate
            ctx = ctx.decide("schedule.learning_rate", learning_rate, "train.learning_rate", "spec")
            warning = useful_range_warning(final.type, learning_rate, what)
            if warning:
                ctx = ctx.warn("learning_rate_range", warning)
        else:
            learning_rate = r.learning_rate
            ctx = ctx.decide(
                "schedule.learning_rate",
                learning_rate,
                f"the {what} recipe's rate (task {ctx.spec.task.type}, measured on the shared "
                "datasets: docs/benchmarks.md)",
                "default",
            )
    ctx = _head_rate(ctx, learning_rate, what)

    total = steps * epochs
    warmup, warmup_why, warmup_source = _warmup(train.warmup, r.warmup, total, what, lbfgs)
    if lbfgs and train.warmup is not None:
        raise CompileError(
            "train.warmup does nothing for an L-BFGS head (it has no learning-rate schedule); "
            "remove it, or set strategy.solver: adamw to train the head with mini-batches"
        )
    stopping, stopping_why, stopping_source = _early_stopping(ctx, epochs, lbfgs)
    schedule = SchedulePlan(
        epochs=epochs,
        batch_size=batch,
        accumulation=accumulation,
        processes=processes,
        global_batch=global_batch,
        steps_per_epoch=steps,
        total_steps=total,
        warmup_steps=warmup,
        learning_rate=learning_rate,
        schedule=train.schedule,
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        seed=train.seed,
        deterministic=train.deterministic,
        time_budget_s=parse_duration(train.time_budget) if train.time_budget else None,
        checkpoint_every=train.checkpoint_every,
        eval_every=train.eval_every,
        keep_checkpoints=train.keep_checkpoints,
        early_stopping=stopping,
    )
    ctx = ctx.decide("schedule.total_steps", total, f"{steps} steps x {epochs} epoch(s)")
    ctx = ctx.decide("schedule.warmup_steps", warmup, warmup_why, warmup_source)
    if stopping_why:
        ctx = ctx.decide(
            "schedule.early_stopping",
            stopping.model_dump() if stopping else None,
            stopping_why,
            stopping_source,
        )
    return ctx.replace(schedule=schedule)


def _epochs(strategy: str, steps: int, rows: int, global_batch: int) -> tuple[int, str]:
    epochs, why = choose_epochs(strategy, steps)
    return epochs, f"{why} ({rows:,} training rows, global batch {global_batch})"


def _warmup(
    value: float | None, default: float, total: int, what: str, lbfgs: bool
) -> tuple[int, str, Source]:
    if lbfgs:
        return 0, "L-BFGS has no learning-rate schedule", "default"
    source: Source = "spec"
    if value is None:
        value, source = default, "default"
        if not value:
            return 0, f"the {what} recipe has no warmup (the head starts from zero)", source
    if value < 1:
        warmup = math.ceil(value * total)
        why = f"{value:g} of {total} total steps, rounded up"
    else:
        warmup = min(int(value), total)
        why = f"{int(value)} steps" + (
            f", capped at the {total} total steps" if value > total else ""
        )
    if source == "default":
        why = f"the {what} recipe: {why}"
    return warmup, why, source


HEAD_RATE_LABELS = {"classes": "classifier", "tags": "tagging"}
"""The heads whose rate grows with their classes (`recipes.head_rate`): one label out of
several, and token tags (measured on banking77, sst2, mrpc, sms, ag_news and wnut17). A
regression head starts at the labels' mean (it lost 5 points of spearman on stsb at 30x the
rate); a multi-label head is not measured: both keep the body's rate."""


def _head_rate(ctx: CompileContext, learning_rate: float, what: str) -> CompileContext:
    """The new task head's rate (`train.head_learning_rate`, else from its classes) as the
    `head` group's multiple of the rate (dapt: its downstream strategy's group)."""
    set_rate = ctx.spec.train.head_learning_rate
    strategy = ctx.need("strategy")
    final = final_strategy(strategy)
    head = next((g for g in final.groups if g.name == "head" and g.trainable), None)
    if isinstance(final, FeaturesPlan) or head is None or not head.parameters:
        if set_rate is not None:
            raise CompileError(
                "train.head_learning_rate is set but "
                + (
                    "strategy features trains the head alone: set train.learning_rate instead"
                    if isinstance(final, FeaturesPlan)
                    else f"task {ctx.spec.task.type} has no task head: remove it"
                )
            )
        return ctx
    source: Source
    labels = TASK_RULES[ctx.spec.task.type].labels
    if set_rate is not None:
        rate, why, source = set_rate, "train.head_learning_rate", "spec"
    elif labels not in HEAD_RATE_LABELS:
        rate, source = learning_rate, "default"
        why = f"the body's rate: a {labels} head keeps it " + (
            "(it starts at the labels' mean)" if labels == "number" else "(not measured)"
        )
    else:
        rate, why = head_rate(learning_rate, len(ctx.need("task").labels))
        source = "default"
        why = (
            f"{what}, a new {HEAD_RATE_LABELS[labels]} head over {why} (its rows see fewer "
            "examples the more classes there are: docs/benchmarks.md); the body trains at "
            "schedule.learning_rate"
        )
    ctx = ctx.decide("schedule.head_learning_rate", rate, why, source)
    scale = rate / learning_rate
    if scale == 1.0:
        return ctx
    groups = [
        g.model_copy(update={"lr_scale": g.lr_scale * scale}) if g is head else g
        for g in final.groups
    ]
    final = final.model_copy(update={"groups": groups})
    new = strategy.model_copy(update={"then": final}) if isinstance(strategy, DaptPlan) else final
    return ctx.replace(strategy=new)


def _early_stopping(
    ctx: CompileContext, epochs: int, lbfgs: bool
) -> tuple[EarlyStoppingPlan | None, str | None, Source]:
    """The spec's early stopping; unset, on when the compiler chose many epochs and a
    validation split can judge them."""
    train = ctx.spec.train
    if "early_stopping" in train.model_fields_set or train.early_stopping is not None:
        if train.early_stopping is None:
            return None, None, "spec"
        return EarlyStoppingPlan(**train.early_stopping.model_dump()), None, "spec"
    validation = ctx.profile("validation")
    if lbfgs or train.epochs is not None or epochs < AUTO_STOPPING_EPOCHS:
        return None, None, "default"
    if validation is None or not validation.rows:
        return None, None, "default"
    return (
        EarlyStoppingPlan(patience=AUTO_PATIENCE),
        f"the compiler chose {epochs} epochs and a validation split of {validation.rows:,} rows "
        f"can tell when they stop helping: patience {AUTO_PATIENCE}",
        "default",
    )


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
