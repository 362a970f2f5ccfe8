"""Pass `choose_max_length`: tokens per input, and how many examples it truncates."""

from __future__ import annotations

import math

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError
from etbuilder.plan import SplitProfile

COVERAGE = 0.99
"""`max_length: auto` covers this fraction of the training examples."""
HARD_CAP = 512
"""auto never goes above this (attention cost grows with the square of the length)."""


def round_up(value: int, multiple: int = 8) -> int:
    """`value` rounded up to a multiple of `multiple` (tensor cores like multiples of 8)."""
    return max(multiple, math.ceil(value / multiple) * multiple)


def coverage_length(lengths: tuple[int, ...], coverage: float = COVERAGE) -> int:
    """The smallest length that covers `coverage` of `lengths` (nearest-rank percentile)."""
    ordered = sorted(lengths)
    rank = max(1, math.ceil(coverage * len(ordered)))
    return ordered[rank - 1]


def choose_max_length(ctx: CompileContext) -> CompileContext:
    """auto: 99% coverage of training lengths rounded up to 8, capped by the model and 512."""
    backbone = ctx.need("backbone")
    requested = ctx.spec.backbone.max_length
    model_cap = backbone.max_positions
    train = ctx.split_lengths("train")
    if requested == "auto":
        cap = min(model_cap, HARD_CAP)
        if train is None or not train.lengths:
            value, why = cap, "no training texts to measure: the model's limit"
        else:
            covering = coverage_length(train.lengths)
            value = min(round_up(covering), cap)
            why = (
                f"covers {COVERAGE:.0%} of training examples ({covering} tokens, rounded up to "
                f"a multiple of 8), capped by min(model max positions {model_cap}, {HARD_CAP})"
            )
            if len(train.lengths) < train.population:
                why += (
                    f"; measured on a deterministic sample of {len(train.lengths):,} of "
                    f"{train.population:,} training examples"
                )
        ctx = ctx.decide("backbone.max_length", value, why, "inferred")
    else:
        if requested > model_cap:
            raise CompileError(
                f"backbone.max_length is {requested} but {backbone.name} reads at most "
                f"{model_cap} tokens; set backbone.max_length to {model_cap} or less, or `auto`"
            )
        value = requested
        ctx = ctx.decide("backbone.max_length", value, "set in the spec", "spec")
    profiles = tuple(_with_truncation(p, ctx, value) for p in ctx.profiles)
    ctx = ctx.replace(max_length=value, profiles=profiles)
    profile = ctx.profile("train")
    if train is not None and profile is not None and profile.lengths is not None and profile.rows:
        truncated = profile.lengths.truncated
        sampled = len(train.lengths) < train.population
        ctx = ctx.decide(
            "data.truncated",
            {"examples": truncated, "fraction": round(truncated / profile.rows, 4)},
            f"training examples longer than max_length {value} lose their tail"
            + (" (estimated from the sample)" if sampled else ""),
        )
    return ctx


def _with_truncation(profile: SplitProfile, ctx: CompileContext, max_length: int) -> SplitProfile:
    measured = ctx.split_lengths(profile.name)
    if profile.lengths is None or measured is None:
        return profile
    stats = profile.lengths.model_copy(update={"truncated": measured.count_over(max_length)})
    return profile.model_copy(update={"lengths": stats})
