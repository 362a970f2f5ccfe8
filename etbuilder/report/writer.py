"""The run report: metrics.json, a readable report.md, and PNG plots in plots/.

`write_report` is called once at the end of a run (and by `etb evaluate`). Every file is written
atomically (temporary file in the same folder, then `os.replace`): an interrupted write never
leaves a half-written metrics.json or report.md behind. Plots are written first and report.md
last, so a report.md on disk means the report is complete.

`metrics` holds ``{"test": {...}, "validation": {...}, "best_epoch": ..., "train_seconds": ...}``
(each split as returned by `compute_metrics`; other top-level numbers are shown as run figures).
`history` is the list of metrics.jsonl records (``step``, ``epoch``, ``loss``, ``lr``,
``validation/<metric>``, ``elapsed``). The prediction rows are described in
`etbuilder.report.worst_errors`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from etbuilder.atomic import atomic_write
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report import plots, sections
from etbuilder.report.worst_errors import (
    PRED_KEYS,
    TRUE_KEYS,
    as_float,
    cell,
    pick,
    worst_errors,
)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays to Python, non-finite floats to null, paths to str."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalar or array
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def metrics_json(metrics: Mapping[str, Any]) -> str:
    """The metrics as canonical JSON (sorted keys, indent 2, trailing newline)."""
    return json.dumps(_jsonable(metrics), sort_keys=True, indent=2) + "\n"


def _plot_jobs(
    plan: Plan,
    metrics: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
) -> dict[str, Callable[[], bytes | None]]:
    """Plot name -> a function drawing it (PNG bytes, or None when there is nothing to draw)."""
    task, (split, test) = plan.task, sections.eval_split(metrics)
    jobs: dict[str, Callable[[], bytes | None]] = {
        "learning_curves": lambda: plots.learning_curves(
            history, task.metric, task.metric_direction
        )
    }
    rule = TASK_RULES[task.type]
    if "confusion_matrix" in rule.plots and test.get("confusion_matrix"):
        jobs["confusion_matrix"] = lambda: plots.confusion_matrix(
            test["confusion_matrix"], task.labels or list(test.get("per_class", {}))
        )
    if "per_class_f1" in rule.plots:
        jobs["per_class_f1"] = lambda: plots.per_class_f1(
            test.get("per_class") or {}, f"{split.capitalize()} F1 per {rule.class_word}"
        )
    if "predicted_vs_true" in rule.plots:
        values = [(as_float(pick(r, TRUE_KEYS)), as_float(pick(r, PRED_KEYS))) for r in predictions]
        pairs = [(t, p) for t, p in values if t is not None and p is not None]
        jobs["predicted_vs_true"] = lambda: plots.predicted_vs_true(
            [t for t, _ in pairs], [p for _, p in pairs]
        )
    return jobs


_PLOT_TITLES = {
    "learning_curves": "Learning curves",
    "confusion_matrix": "Confusion matrix",
    "per_class_f1": "F1 per class",
    "predicted_vs_true": "Predicted vs true, and residuals",
}


def write_report(
    run_dir: Path,
    plan: Plan,
    metrics: dict[str, Any],
    predictions: list[dict[str, Any]] | None,
    history: list[dict[str, Any]],
) -> dict[str, Path]:
    """Write metrics.json, report.md and plots/*.png under `run_dir`; return name -> path.

    Names: ``metrics``, ``report``, and one per plot drawn (``learning_curves``,
    ``confusion_matrix``, ``per_class_f1``, ``regression``). When matplotlib is missing the
    report says so and is written without plots.
    """
    run_dir = Path(run_dir)
    rows = predictions or []
    written: dict[str, Path] = {}
    plot_note: str | None = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plot_note = "Plots skipped: matplotlib is not installed (pip install 'etbuilder[train]')."
    if plot_note is None:
        for name, draw in _plot_jobs(plan, metrics, rows, history).items():
            png = draw()
            if png:
                written[name] = atomic_write(run_dir / "plots" / f"{name}.png", png)
    written["metrics"] = atomic_write(run_dir / "metrics.json", metrics_json(metrics))

    links = [f"![{_PLOT_TITLES[n]}](plots/{n}.png)" for n in _PLOT_TITLES if n in written]
    plot_lines = [plot_note] if plot_note else (links or ["No plot had data to draw."])
    text = _markdown(plan, metrics, rows, plot_lines)
    written["report"] = atomic_write(run_dir / "report.md", text)
    return written


def _markdown(
    plan: Plan,
    metrics: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    plot_lines: list[str],
) -> str:
    """The text of report.md."""
    task, (split, test) = plan.task, sections.eval_split(metrics)
    lines = [f"# Run report: {cell(plan.spec.name)}", ""]
    if plan.spec.description:
        lines += [cell(plan.spec.description, 500), ""]
    lines += sections.summary(plan, metrics)
    lines += sections.data_section(plan)
    lines += sections.decisions(plan)
    lines += sections.warnings_section(plan)
    lines += sections.metrics_section(plan, metrics)
    lines += sections.distill_section(plan, metrics)
    lines += sections.per_class(plan, split, test)
    if "confusion_matrix" in TASK_RULES[task.type].plots and test.get("confusion_matrix"):
        labels = task.labels or list(test.get("per_class", {}))
        lines += sections.confusion(split, labels, test["confusion_matrix"])
    lines += [f"## Worst errors ({split})", "", *worst_errors(task.type, rows), ""]
    lines += ["## Plots", "", *plot_lines, ""]
    version, spec_hash = plan.etbuilder_version, plan.spec_hash[:12]
    lines.append(f"Plan: `plan.json` (etbuilder {version}, spec hash `{spec_hash}`).")
    return "\n".join(lines) + "\n"
