"""Pass `plan_tune`: lower `tune:` into the study `etb tune` runs (space, sampler, pruner, budget).

The rest of the plan is trial 0 (the spec's own values); its estimated time says how many trials
the budget is expected to hold. Each later trial is compiled on its own before it trains.
"""

from __future__ import annotations

import math
from typing import Any

from etbuilder.compiler.context import CompileContext
from etbuilder.plan import Estimates, TaskPlan, TuneCondition, TuneDimension, TunePlan
from etbuilder.plan.tasks import MINIMIZED
from etbuilder.spec._base import parse_duration
from etbuilder.spec.tune import Choice, IntRange, LogUniformRange, SearchRange, UniformRange
from etbuilder.spec.tune_space import resolve, sampling_order


def plan_tune(ctx: CompileContext) -> CompileContext:
    """The study of a spec with `tune:`; nothing for a single run."""
    tune = ctx.spec.tune
    if tune is None:
        return ctx
    task: TaskPlan = ctx.need("task")
    estimates: Estimates = ctx.need("estimates")
    space = [_dimension(ctx, key, tune.space) for key in sampling_order(list(tune.space))]
    metric = tune.metric or task.metric
    direction = _direction(tune.direction, metric, task)
    seconds = max(estimates.seconds_total, 0.1)
    budget = parse_duration(tune.budget) if tune.budget else None
    expected = tune.trials if budget is None else min(tune.trials, math.floor(budget / seconds))
    grid = _grid_size(tune.space) if tune.sampler == "grid" else None
    if grid is not None:
        expected = min(expected, grid)
    refit = _refit_seconds(ctx, seconds) if tune.refit == "train+validation" else None
    runs = min(tune.trials, grid or tune.trials)
    search = budget if budget is not None else runs * seconds
    plan = TunePlan(
        space=space,
        metric=metric,
        direction=direction,
        sampler=tune.sampler,
        pruner=tune.pruner,
        trials=tune.trials,
        budget_s=budget,
        expected_trials=expected,
        seconds_per_trial=round(seconds, 1),
        storage=tune.storage or "sqlite",
        grid_size=grid,
        refit=tune.refit,
        refit_seconds=None if refit is None else round(refit, 1),
        search_seconds=round(search, 1),
    )
    why = (
        f"{tune.budget} / {seconds:.0f} s estimated for the spec's own configuration"
        if budget is not None
        else "no budget: every trial runs"
    )
    ctx = ctx.decide("tune.expected_trials", expected, why)
    ctx = ctx.decide(
        "tune.end_to_end_s",
        round(search + (refit or 0.0), 1),
        f"the search ({search:.0f} s)"
        + (f" + the refit on train + validation (~{refit:.0f} s)" if refit is not None else "")
        + "; testing and packaging the best model come on top",
    )
    if tune.direction == "auto":
        ctx = ctx.decide("tune.direction", direction, f"{metric} is better when {direction}d")
    if budget is not None and expected < 1:
        ctx = ctx.warn(
            "tune_budget",
            f"tune.budget {tune.budget} is shorter than one trial of the spec's own "
            f"configuration ({seconds:.0f} s estimated): raise the budget or shrink the run",
        )
    elif expected < tune.trials:
        ctx = ctx.warn(
            "tune_budget",
            f"tune.budget {tune.budget} holds about {expected} of the {tune.trials} trials "
            f"({seconds:.0f} s each estimated); cheaper configurations may fit more",
        )
    return ctx.replace(tune=plan)


def _refit_seconds(ctx: CompileContext, seconds: float) -> float:
    """Trial 0's estimate scaled from the training rows to training + validation rows."""
    train = ctx.profile("train")
    validation = ctx.profile("validation")
    rows = train.rows if train is not None else 0
    extra = validation.rows if validation is not None else 0
    return seconds * (rows + extra) / rows if rows else seconds


def _direction(asked: str, metric: str, task: TaskPlan) -> Any:
    if asked != "auto":
        return asked
    if metric == task.metric:
        return task.metric_direction
    return "minimize" if metric in MINIMIZED else "maximize"


def _dimension(ctx: CompileContext, key: str, space: dict[str, SearchRange]) -> TuneDimension:
    search = space[key]
    conds = [TuneCondition(path=p, values=v) for p, v in resolve(ctx.spec, key, space).conditions]
    base = _spec_value(ctx.spec, key)
    common: dict[str, Any] = {"path": key, "conditions": conds, "base": base}
    if isinstance(search, UniformRange):
        return TuneDimension(
            kind="uniform", low=search.uniform[0], high=search.uniform[1], **common
        )
    if isinstance(search, LogUniformRange):
        low, high = search.log_uniform
        return TuneDimension(kind="log_uniform", low=low, high=high, **common)
    if isinstance(search, IntRange):
        low_i, high_i = search.int
        return TuneDimension(kind="int", low=low_i, high=high_i, step=search.step, **common)
    return TuneDimension(kind="choice", choices=list(search.choice), **common)


def _spec_value(spec: Any, key: str) -> Any:
    value = spec
    for part in key.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value if isinstance(value, bool | int | float | str) else None


def _grid_size(space: dict[str, SearchRange]) -> int:
    size = 1
    for search in space.values():
        if isinstance(search, Choice):
            size *= len(search.choice)
        elif isinstance(search, IntRange):
            size *= (search.int[1] - search.int[0]) // search.step + 1
    return size
