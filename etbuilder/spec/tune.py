"""`tune:` hyper-parameter search with optuna over any dotted spec path."""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from etbuilder.spec._base import DURATION_PATTERN, SpecModel

Scalar = bool | int | float | str

STORAGE_KINDS = ("sqlite", "journal", "memory")
"""`tune.storage` values that name a kind of storage in the study folder rather than a URL."""


class UniformRange(SpecModel):
    """A float drawn uniformly from `[low, high]`."""

    uniform: tuple[float, float]
    """`[low, high]`."""

    @model_validator(mode="after")
    def _ordered(self) -> UniformRange:
        _check_order(*self.uniform)
        return self


class LogUniformRange(SpecModel):
    """A positive float drawn uniformly in log space from `[low, high]`."""

    log_uniform: tuple[float, float]
    """`[low, high]`, both above zero."""

    @model_validator(mode="after")
    def _ordered(self) -> LogUniformRange:
        low, high = self.log_uniform
        if low <= 0:
            raise ValueError(f"log_uniform needs a low bound above 0, got {low:g}")
        _check_order(low, high)
        return self


class IntRange(SpecModel):
    """An integer drawn from `[low, high]`, both included."""

    int: tuple[int, int]
    """`[low, high]`."""
    step: Annotated[builtins.int, Field(ge=1)] = 1
    """Spacing between candidate values."""

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        _check_order(*self.int)
        return self


class Choice(SpecModel):
    """One of a list of values."""

    choice: list[Scalar] = Field(min_length=1)
    """The candidate values."""


def _check_order(low: float, high: float) -> None:
    if low >= high:
        raise ValueError(f"the range [{low:g}, {high:g}] is empty: low must be below high")


def _range_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("uniform", "log_uniform", "int", "choice"):
            if key in value:
                return key
        return None
    if isinstance(value, UniformRange | LogUniformRange | IntRange | Choice):
        return type(value).__name__
    return None


SearchRange = Annotated[
    Annotated[UniformRange, Tag("uniform")]
    | Annotated[LogUniformRange, Tag("log_uniform")]
    | Annotated[IntRange, Tag("int")]
    | Annotated[Choice, Tag("choice")],
    Discriminator(
        lambda v: {
            "UniformRange": "uniform",
            "LogUniformRange": "log_uniform",
            "IntRange": "int",
            "Choice": "choice",
        }.get(_range_kind(v) or "", _range_kind(v)),
        custom_error_type="search_range",
        custom_error_message=(
            "a search range is one of {uniform: [lo, hi]}, {log_uniform: [lo, hi]}, "
            "{int: [lo, hi]} or {choice: [a, b, ...]}"
        ),
    ),
]
"""One dimension of the search space."""


class TuneSpec(SpecModel):
    """Search hyper-parameters: each trial is a run of the spec with sampled values."""

    trials: int = Field(default=20, ge=1, le=10000)
    """Most trials to run (a failed trial counts; one whose process died is retried once)."""
    budget: str | None = Field(default=None, pattern=DURATION_PATTERN)
    """Wall-clock budget of the search (`10m`, `2h`): a trial starts only when the compiler's
    time estimate for its configuration fits in what is left, and is cut at the budget's end."""
    metric: str | None = None
    """Validation metric to optimise; default: the task's metric."""
    direction: Literal["auto", "maximize", "minimize"] = "auto"
    """Whether larger is better; auto follows the metric (loss and errors are minimised)."""
    sampler: Literal["tpe", "random", "grid", "cmaes"] = "tpe"
    """Optuna sampler: tpe (multivariate, seeded by `train.seed`), random, grid (choices and
    int ranges only) or cmaes (numeric ranges; choices are sampled at random)."""
    pruner: Literal["median", "successive_halving", "hyperband", "none"] = "median"
    """Stop unpromising trials early on their per-evaluation validation metric."""
    storage: str | None = None
    """Where the study is kept: default a SQLite file in the study folder (resumable);
    `journal` a journal file there (safe for parallel workers); `memory` nowhere (no resume);
    or any SQLAlchemy URL (`postgresql://user@host/db`, driver: etbuilder[postgres]) that
    `etb tune` on other machines joins: one process creates the study, the others add trials
    until `trials` have run; each writes its own study folder, and a password in the URL is
    masked in the files."""

    @field_validator("storage")
    @classmethod
    def _storage_kind_or_url(cls, value: str | None) -> str | None:
        if value is None or value in STORAGE_KINDS or "://" in value:
            return value
        raise ValueError(
            f"{value!r} is neither a storage kind ({', '.join(STORAGE_KINDS)}) nor a database "
            "URL: write e.g. postgresql://user@host/db, sqlite:////abs/path/study.db, or "
            "leave storage out"
        )

    refit: Literal["none", "train+validation"] = "none"
    """After the search: `none` tests and packages the best trial's own model;
    `train+validation` retrains the best configuration on the training and validation rows
    together, for the best trial's number of epochs, then tests and packages that model."""
    space: dict[str, SearchRange] = Field(min_length=1)
    """Search space: dotted spec paths (e.g. `train.learning_rate`) to ranges. Knobs of one
    strategy (`strategy.r`) are sampled only in trials where `strategy.type` picks it. When
    the space samples `strategy.type`, the spec's `train.learning_rate`, `train.epochs` and
    `train.warmup` belong to the spec's own strategy: a trial of another strategy that does not
    sample them takes that strategy's defaults. A `features` trial whose linear head is solved
    exactly (L-BFGS) samples no `train.learning_rate` or `train.epochs` (they would switch it to
    mini-batch AdamW; `strategy.solver: adamw` brings them back). Trial 0 is the spec itself;
    the next trials are each other strategy at its defaults, cheapest first."""
