"""What a finished study leaves in its folder: trials.csv, best.yaml, plots, report.md."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import TunePlan
from etbuilder.report.rundir import write_atomic
from etbuilder.runtime.tune.trial import (
    EFFECTIVE,
    FAILURE,
    RETRY_OF,
    SAME_AS,
    SKIPPED,
    SPEC_TEXT,
    TRIAL_SPEC,
)

PLOTS = (
    ("optimization_history", "plot_optimization_history"),
    ("param_importances", "plot_param_importances"),
    ("parallel_coordinate", "plot_parallel_coordinate"),
    ("intermediate_values", "plot_intermediate_values"),
)
"""PNG name -> optuna.visualization.matplotlib function."""


@dataclass
class StudySummary:
    """The figures of a study, as report.md, study.json and the command line show them."""

    trials: int = 0
    complete: int = 0
    pruned: int = 0
    skipped: int = 0
    """Never trained: did not fit the budget, or repeated a finished trial (`repeated`)."""
    repeated: int = 0
    failed: int = 0
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run: str | None = None
    best_test: dict[str, Any] = field(default_factory=dict)
    feature_seconds_written: float = 0.0
    feature_seconds_saved: float = 0.0
    """Seconds the shared feature cache saved: each hit would have cost a write's time."""
    feature_hits: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def misfits(self) -> int:
        """Trials that never trained because they did not fit the budget left."""
        return self.skipped - self.repeated

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def started(study: Any) -> list[Any]:
    """The trials that started (not those still queued when the study ended)."""
    return [t for t in study.trials if t.state.name != "WAITING"]


def state_of(trial: Any) -> str:
    """complete, pruned, skipped (did not fit the budget), failed, waiting or running."""
    if trial.state.name == "PRUNED":
        return "skipped" if SKIPPED in trial.user_attrs else "pruned"
    return {"COMPLETE": "complete", "FAIL": "failed", "WAITING": "waiting"}.get(
        trial.state.name, "running"
    )


def summarize(study: Any) -> StudySummary:
    """Count the trials and find the best one."""
    trials = started(study)
    summary = StudySummary(trials=len(trials))
    reasons: Counter[str] = Counter()
    written: list[float] = []
    hits = 0
    for trial in trials:
        state = state_of(trial)
        if state in ("complete", "pruned", "skipped", "failed"):
            setattr(summary, state, getattr(summary, state) + 1)
        if SAME_AS in trial.user_attrs:
            summary.repeated += 1
        if state == "failed":
            reasons[str(trial.user_attrs.get(FAILURE, "unknown"))] += 1
        cache = trial.user_attrs.get("feature_cache")
        if cache == "written":
            written.append(float(trial.user_attrs.get("feature_seconds") or 0.0))
        elif cache == "hit":
            hits += 1
    summary.reasons = dict(reasons.most_common())
    summary.feature_hits = hits
    summary.feature_seconds_written = round(sum(written), 1)
    if written:
        summary.feature_seconds_saved = round(hits * sum(written) / len(written), 1)
    if summary.complete:
        best = study.best_trial
        summary.best_number = best.number
        summary.best_value = best.value
        summary.best_params = dict(best.params)
        summary.best_run = best.user_attrs.get("run_dir")
        summary.best_test = dict(best.user_attrs.get("test") or {})
    return summary


def check_outcome(summary: StudySummary) -> None:
    """A study without one complete trial is an error: say the most common reason."""
    if summary.complete:
        return
    if summary.failed and summary.failed == summary.trials:
        reason, count = next(iter(summary.reasons.items()))
        raise RunError(
            f"every trial failed ({summary.trials}); the most common reason ({count} of them): "
            f"{reason}"
        )
    raise RunError(
        f"no trial finished: {summary.pruned} pruned, {summary.misfits} did not fit the budget, "
        f"{summary.failed} failed; raise tune.budget or narrow tune.space"
    )


def trials_csv(study: Any, tune: TunePlan) -> str:
    """One row per trial: number, state, value, its values, and what happened."""
    paths = [d.path for d in tune.space]
    columns = ["number", "state", tune.metric, *paths, "seconds", "estimated_s"]
    columns += ["reason", "retry_of", "feature_cache", "run_dir"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for trial in started(study):
        attrs = trial.user_attrs
        reason = attrs.get(FAILURE) or attrs.get(SKIPPED) or _pruned_at(trial)
        writer.writerow(
            [
                trial.number,
                state_of(trial),
                "" if trial.value is None else trial.value,
                *[_value(trial, p) for p in paths],
                attrs.get("seconds", ""),
                attrs.get("estimated_s", ""),
                reason or "",
                attrs.get(RETRY_OF, ""),
                attrs.get("feature_cache", ""),
                attrs.get("run_dir", ""),
            ]
        )
    return out.getvalue()


def _value(trial: Any, path: str) -> Any:
    """The trial's sampled value at `path`, or `default (...)`: what the compiler chose for a
    strategy-bound setting the trial did not sample; empty for a knob it does not have."""
    if path in trial.params:
        return trial.params[path]
    effective = trial.user_attrs.get(EFFECTIVE) or {}
    return f"default ({effective[path]})" if path in effective else ""


def _pruned_at(trial: Any) -> str:
    if trial.state.name != "PRUNED" or not trial.intermediate_values:
        return ""
    step = max(trial.intermediate_values)
    return f"pruned after evaluation {step}"


def best_spec_text(study: Any, best_run: Path) -> str | None:
    """The best trial's spec: its run folder's copy, or (the folder is on another machine)
    the copy the trial keeps in the study's storage."""
    if (best_run / TRIAL_SPEC).is_file():
        return (best_run / TRIAL_SPEC).read_text(encoding="utf-8")
    text = study.best_trial.user_attrs.get(SPEC_TEXT)
    return text if isinstance(text, str) else None


def best_yaml(best_run: Path, text: str, dashboard: str | None) -> str:
    """The best trial's spec (no `tune:`), which `etb run` reproduces, with a header."""
    header = [
        "# The best trial of `etb tune`: run it again with `etb run best.yaml`.",
        f"# Trial folder: {best_run}",
    ]
    if dashboard:
        header.append(f"# Study: {dashboard}")
    return "\n".join(header) + "\n" + text


def write_plots(study: Any, folder: Path) -> list[str]:
    """optuna's matplotlib plots as PNGs; a plot the study cannot draw yet is left out."""
    import warnings

    import matplotlib
    import optuna

    matplotlib.use("Agg")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # "no complete trials yet" is not news
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as plots

    written = []
    for name, function in PLOTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = getattr(plots, function)(study)
        except Exception:  # too few trials for importances, no intermediate values, ...
            plt.close("all")
            continue
        figure = _figure_of(axes)
        figure.set_size_inches(9, 5.5)
        figure.tight_layout()
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=90)
        plt.close("all")
        written.append(path.name)
    return written


def _figure_of(axes: Any) -> Any:
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    return first.get_figure()


def report_markdown(
    spec_name: str,
    tune: TunePlan,
    summary: StudySummary,
    table: str,
    plots: list[str],
    dashboard: str | None,
    wall_s: float,
) -> str:
    """report.md of the study."""
    lines = [
        f"# Study: {spec_name}",
        "",
        f"- metric: validation {tune.metric} ({tune.direction})",
        f"- sampler: {tune.sampler}, pruner: {tune.pruner}, storage: {tune.storage}",
        f"- budget: {_duration(tune.budget_s)}; wall time of this session: {wall_s:.0f} s",
        f"- trials: {summary.trials} ({summary.complete} complete, {summary.pruned} pruned, "
        f"{summary.misfits} did not fit the budget, {summary.failed} failed"
        + (f", {summary.repeated} repeated a finished trial" if summary.repeated else "")
        + ")",
    ]
    if summary.best_number is not None:
        lines.append(
            f"- best: trial {summary.best_number}, validation {tune.metric} "
            f"{_fmt(summary.best_value)}"
        )
        for key, value in summary.best_test.items():
            lines.append(f"  - test {key}: {_fmt(value)}")
    if summary.feature_hits:
        lines.append(
            f"- shared feature cache: {summary.feature_hits} trials reused features "
            f"(~{summary.feature_seconds_saved:.0f} s saved)"
        )
    if summary.reasons:
        lines += ["", "## Failures", ""]
        lines += [f"- {count} x {reason}" for reason, count in summary.reasons.items()]
    lines += ["", "## Best values", ""]
    lines += [f"- `{k}`: {_fmt(v)}" for k, v in summary.best_params.items()] or ["- (none)"]
    lines += ["", "## Trials", "", "```", table.rstrip(), "```"]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if dashboard:
        lines += ["", "## Dashboard", "", f"    pip install optuna-dashboard && {dashboard}"]
    return "\n".join(lines) + "\n"


def _duration(seconds: float | None) -> str:
    return "none" if seconds is None else f"{seconds:.0f} s"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def write_outputs(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        write_atomic(folder / name, text)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
