"""The study a `tune:` section lowers to: its space, sampler, pruner, budget and storage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from etbuilder.plan.base import PlanModel


class TuneCondition(PlanModel):
    """A dimension is sampled only when the member choice at `path` is one of `values`."""

    path: str
    values: list[str]


class TuneDimension(PlanModel):
    """One dimension of the search space."""

    path: str
    """The dotted spec path the sampled value is written to."""
    kind: Literal["uniform", "log_uniform", "int", "choice"]
    low: float | None = None
    high: float | None = None
    step: int | None = None
    choices: list[bool | int | float | str] | None = None
    base: bool | int | float | str | None = None
    """The spec's own value (trial 0 samples it, when it lies inside the range)."""
    conditions: list[TuneCondition] = Field(default_factory=list)
    """Empty: sampled in every trial."""


class TunePlan(PlanModel):
    """The optuna study `etb tune` (or `etb run` on a spec with `tune:`) carries out."""

    space: list[TuneDimension]
    metric: str
    """The validation metric each trial reports (per evaluation, for the pruner) and ends on."""
    direction: Literal["maximize", "minimize"]
    sampler: Literal["tpe", "random", "grid", "cmaes"]
    pruner: Literal["median", "successive_halving", "hyperband", "none"]
    trials: int
    """Most trials the study holds."""
    budget_s: float | None
    """The study's wall-clock budget (None: only `trials` ends it)."""
    expected_trials: int
    """Trials the budget is expected to hold at the spec's own configuration's estimated time
    (at most `trials`)."""
    seconds_per_trial: float
    """The compiler's time estimate of the spec's own configuration (trial 0)."""
    storage: str
    """`sqlite` (a file in the study folder), `journal`, `memory`, or a database URL."""
    refit: Literal["none", "train+validation"] = "none"
    """What is packaged: the best trial's model, or the best configuration retrained on train
    and validation together."""
    grid_size: int | None = None
    """Configurations of a grid search (its trials are at most this many)."""
    refit_seconds: float | None = None
    """`refit: train+validation`: the estimated retraining, trial 0's configuration on the
    training and validation rows together (None: no refit)."""
    search_seconds: float = 0.0
    """The search's expected wall time: the budget, or (no budget) `trials` x
    `seconds_per_trial`."""
