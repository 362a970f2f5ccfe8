"""The sampler and pruner of a study, from its `TunePlan`."""

from __future__ import annotations

from typing import Any

from etbuilder.errors import MissingExtraError
from etbuilder.plan import TuneDimension, TunePlan


def make_sampler(tune: TunePlan, seed: int) -> Any:
    """TPE (multivariate, grouped for conditional spaces, seeded), random, grid or CMA-ES."""
    import optuna

    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tune.sampler == "grid":
        return optuna.samplers.GridSampler({d.path: grid_values(d) for d in tune.space}, seed=seed)
    if tune.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise MissingExtraError("cmaes", "train") from None
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    return optuna.samplers.TPESampler(
        seed=seed,
        multivariate=True,
        group=True,
        n_startup_trials=max(2, min(10, tune.expected_trials // 3)),
        constant_liar=True,
    )


def grid_values(dimension: TuneDimension) -> list[Any]:
    """Every value of a choice or int dimension (the grid sampler's axis)."""
    if dimension.kind == "choice":
        return list(dimension.choices or [])
    low, high, step = int(dimension.low or 0), int(dimension.high or 0), dimension.step or 1
    return list(range(low, high + 1, step))


def make_pruner(tune: TunePlan) -> Any:
    """Median, successive halving, hyperband (per-evaluation steps) or none."""
    import optuna

    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if tune.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def suggest(trial: Any, dimension: TuneDimension) -> Any:
    """Sample `dimension` in `trial` (an enqueued trial gets its fixed value back)."""
    if dimension.kind == "choice":
        return trial.suggest_categorical(dimension.path, dimension.choices)
    if dimension.kind == "int":
        return trial.suggest_int(
            dimension.path, int(dimension.low or 0), int(dimension.high or 0), step=dimension.step
        )
    low, high = float(dimension.low or 0.0), float(dimension.high or 0.0)
    return trial.suggest_float(dimension.path, low, high, log=dimension.kind == "log_uniform")


def contains(dimension: TuneDimension, value: Any) -> bool:
    """Whether `value` lies in `dimension` (the spec's own value can warm-start it)."""
    if value is None:
        return False
    if dimension.kind == "choice":
        return value in (dimension.choices or [])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    low, high = float(dimension.low or 0.0), float(dimension.high or 0.0)
    if dimension.kind == "int":
        return (
            float(value).is_integer()
            and low <= value <= high
            and ((int(value) - int(low)) % (dimension.step or 1) == 0)
        )
    return low <= value <= high
