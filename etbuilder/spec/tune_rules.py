"""Cross-field rules of `tune:`: every search path names a real setting and its range fits the type.

Listed in `etbuilder.spec.rules.RULES` with the other rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from etbuilder.spec import _walk
from etbuilder.spec._finding import Finding, RuleContext
from etbuilder.spec._hints import did_you_mean, show
from etbuilder.spec._yaml import DataPath
from etbuilder.spec.spec import Spec
from etbuilder.spec.tune import Choice, IntRange, LogUniformRange, UniformRange
from etbuilder.spec.tune_space import resolve

FIXED_SECTIONS = ("etb", "name", "description", "data", "tune", "compute", "deploy")
"""Top-level keys a search cannot vary: they name the run, its data or its hardware."""

TUNE_METRICS_EXTRA = ("loss",)
"""Metrics every task reports besides its own `metric` choices."""


def tune_space_fits(spec: Spec, context: RuleContext) -> list[Finding]:
    """Each `tune.space` path exists in this spec and its range fits the field's type."""
    if spec.tune is None:
        return []
    findings: list[Finding] = []
    for key, search in spec.tune.space.items():
        where: DataPath = ("tune", "space", key)
        parts = key.split(".")
        if parts[0] in FIXED_SECTIONS:
            findings.append(
                Finding(
                    where,
                    f"{key} cannot be tuned: {parts[0]} is fixed for every trial",
                    "tune settings under train, strategy, backbone or task",
                    key=True,
                )
            )
            continue
        resolved = resolve(spec, key, spec.tune.space)
        if resolved.problem is not None:
            findings.append(Finding(where, resolved.problem, resolved.hint, key=True))
            continue
        findings.extend(_range_fits(key, resolved.annotation, search, where))
    return findings


def tune_metric_fits_task(spec: Spec, context: RuleContext) -> list[Finding]:
    """`tune.metric` is one of the metrics the task reports."""
    if spec.tune is None or spec.tune.metric is None:
        return []
    field = type(spec.task).model_fields.get("metric")
    metrics = [str(v) for v in _walk.literal_values(field.annotation)] if field else []
    metrics += TUNE_METRICS_EXTRA
    if spec.tune.metric in metrics:
        return []
    return [
        Finding(
            ("tune", "metric"),
            f"'{spec.tune.metric}' is not a metric of the {spec.task.type} task; "
            f"allowed: {', '.join(metrics)}",
            did_you_mean(spec.tune.metric, metrics),
        )
    ]


def tune_sampler_fits(spec: Spec, context: RuleContext) -> list[Finding]:
    """The grid sampler enumerates values, so every range must be a choice or an int range."""
    if spec.tune is None or spec.tune.sampler != "grid":
        return []
    continuous = [k for k, v in spec.tune.space.items() if not isinstance(v, Choice | IntRange)]
    if not continuous:
        return []
    return [
        Finding(
            ("tune", "sampler"),
            "the grid sampler needs a finite set of values, but "
            + (
                f"{continuous[0]} is a continuous range"
                if len(continuous) == 1
                else f"{', '.join(continuous)} are continuous ranges"
            ),
            "use {choice: [...]} or {int: [lo, hi]} ranges, or sampler: tpe",
        )
    ]


def _range_fits(key: str, annotation: Any, search: Any, where: DataPath) -> list[Finding]:
    bases = {_walk.info(m).base for m in _walk.members(annotation)}
    kind, values = _kind_and_values(search)
    expected = _walk.describe(annotation)
    if kind in ("uniform", "log_uniform") and float not in bases:
        use = "use {int: [lo, hi]}" if int in bases else "use {choice: [...]}"
        return [Finding((*where, kind), f"{key} is {expected}; a {kind} range draws floats", use)]
    if kind == "int" and not bases & {int, float}:
        return [
            Finding((*where, kind), f"{key} is {expected}, not a number", "use {choice: [...]}")
        ]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    findings = []
    for index, value in enumerate(values):
        try:
            adapter.validate_python(value)
        except ValidationError:
            allowed = [str(v) for v in _walk.literal_values(annotation)]
            findings.append(
                Finding(
                    (*where, kind, index),
                    f"{show(value)} is outside what {key} accepts: {expected}",
                    did_you_mean(value, allowed),
                )
            )
    return findings


def _kind_and_values(search: Any) -> tuple[str, list[Any]]:
    if isinstance(search, UniformRange):
        return "uniform", list(search.uniform)
    if isinstance(search, LogUniformRange):
        return "log_uniform", list(search.log_uniform)
    if isinstance(search, IntRange):
        return "int", list(search.int)
    return "choice", list(search.choice)
