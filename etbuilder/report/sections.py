"""The sections of report.md, each a function from the Plan and metrics to markdown lines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from etbuilder.plan import Plan, lbfgs_head
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.worst_errors import cell

_SPLITS = ("test", "validation")
_CM_TABLE_MAX = 12
"""Up to this many labels the confusion matrix is also printed as a table in report.md."""


def eval_split(metrics: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The split the detailed sections describe: test, or validation when there is no test."""
    for split in _SPLITS:
        if metrics.get(split):
            return split, metrics[split]
    return "test", {}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4f}"
    return cell(value) if value is not None else "-"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{float(seconds):.1f}s"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def summary(plan: Plan, metrics: Mapping[str, Any]) -> list[str]:
    """Name, task, backbone, strategy, precision, hardware, schedule, time, primary metric."""
    task, bb, strat, sched = plan.task, plan.backbone, plan.strategy, plan.schedule
    test = metrics.get("test") or {}
    val = metrics.get("validation") or {}
    lbfgs = lbfgs_head(strat)
    rows = [
        ["Name", cell(plan.spec.name)],
        ["Task", f"{task.type} (head: {cell(task.head)}; loss: {task.loss})"],
        [
            "Backbone",
            f"{cell(bb.name)} ({bb.architecture}, {bb.layers} layers, "
            f"hidden {bb.hidden_size}, {bb.parameters / 1e6:.1f}M parameters)",
        ],
        ["Strategy", f"{strat.type} ({strat.trainable_parameters:,} trainable parameters)"],
        ["Precision", f"{plan.precision.used} ({cell(plan.precision.reason)})"],
        [
            "Hardware",
            f"{plan.hardware.device_count} x {cell(plan.hardware.device_name)} "
            f"({plan.compute.engine}, world size {plan.compute.world_size})",
        ],
        [
            "Schedule",
            (
                f"full-batch L-BFGS head, L2 strength {metrics.get('head_l2', '?')} of "
                f"{len(lbfgs.l2_grid)} tried"
                if lbfgs
                else f"{_count(sched.epochs, 'epoch')}, {_count(sched.total_steps, 'step')}, "
                f"global batch {sched.global_batch}, lr {sched.learning_rate:g} ({sched.schedule})"
            ),
        ],
        ["Max length", str(task.max_length)],
        [
            "Training time",
            f"{_duration(metrics.get('train_seconds'))} "
            f"(estimated {_duration(plan.estimates.seconds_total)}: {plan.estimates.time_basis})",
        ],
    ]
    if "best_epoch" in metrics:
        rows.append(["Best epoch", _fmt(metrics["best_epoch"])])
    metric = f"{task.metric} ({task.metric_direction})"
    rows.append([f"Test {metric}", _fmt(test.get(task.metric))])
    if val:
        rows.append([f"Validation {metric}", _fmt(val.get(task.metric))])
    known = {"test", "validation", "best_epoch", "train_seconds"}
    rows += [
        [cell(k.replace("_", " ").capitalize()), _fmt(v)]
        for k, v in sorted(metrics.items())
        if k not in known and isinstance(v, int | float | str)
    ]
    return ["## Summary", "", *_table(["", "value"], rows)]


def data_section(plan: Plan) -> list[str]:
    """Rows per split, token lengths, how splits were made, label distribution, targets."""
    lines = ["## Data", ""]
    sources: dict[str, Any] = {s.name: s for s in plan.data.sources}
    rows = []
    for prof in plan.data.profiles:
        src = sources.get(prof.name)
        origin = (
            "carved from train"
            if src and src.carved_from_train
            else (cell(Path(src.path).name) if src else "-")
        )
        length = (
            f"p50 {prof.lengths.p50}, p95 {prof.lengths.p95}, max {prof.lengths.max}, "
            f"{prof.lengths.truncated:,} truncated"
            if prof.lengths
            else "-"
        )
        rows.append(
            [
                prof.name,
                f"{prof.rows:,}",
                origin,
                str(prof.duplicates),
                str(prof.empty_texts),
                length,
            ]
        )
    lines += _table(["split", "rows", "file", "duplicates", "empty texts", "tokens"], rows)
    if plan.data.split:
        sp = plan.data.split
        lines += [
            f"Validation/test carved from train: {sp.validation:g}/{sp.test:g}, "
            f"stratified: {str(sp.stratify).lower()}, seed {sp.seed}.",
            "",
        ]
    if plan.data.train_test_overlap:
        lines += [f"**{plan.data.train_test_overlap:,} test texts also occur in train.**", ""]
    labels = sorted(
        {k for p in plan.data.profiles for k in p.label_counts},
        key=lambda k: -sum(p.label_counts.get(k, 0) for p in plan.data.profiles),
    )
    if labels:
        shown = labels[:15]
        lines += [
            "Label distribution"
            + (f" (15 most frequent of {len(labels)})" if len(labels) > 15 else "")
            + ":",
            "",
        ]
        header = ["label", *(p.name for p in plan.data.profiles)]
        body = []
        for label in shown:
            row = [cell(label)]
            for p in plan.data.profiles:
                count, total = p.label_counts.get(label, 0), sum(p.label_counts.values())
                row.append(f"{count:,} ({100 * count / total:.1f}%)" if total else "0")
            body.append(row)
        lines += _table(header, body)
    stats = [(p.name, p.target_stats) for p in plan.data.profiles if p.target_stats]
    if stats:
        lines += _table(
            ["split", "min", "max", "mean", "std"],
            [[n, *(_fmt(s.get(k)) for k in ("min", "max", "mean", "std"))] for n, s in stats],
        )
    return lines


def decisions(plan: Plan) -> list[str]:
    """Every value the compiler chose or took, with its source and reason."""
    rows = [
        [f"`{d.key}`", cell(d.value, 60), d.source, cell(d.reason, 240)] for d in plan.decisions
    ]
    lines = ["## Compiler decisions", ""]
    return lines + (
        _table(["setting", "value", "source", "reason"], rows) if rows else ["None recorded.", ""]
    )


def warnings_section(plan: Plan) -> list[str]:
    """The compiler's warnings."""
    lines = ["## Warnings", ""]
    lines += [f"- **{w.code}**: {w.message}" for w in plan.warnings] or ["None."]
    return [*lines, ""]


def _scalars(split: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in split.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def metrics_section(plan: Plan, metrics: Mapping[str, Any]) -> list[str]:
    """Every scalar metric of the test and validation splits, the primary one in bold."""
    splits = [s for s in _SPLITS if metrics.get(s)]
    if not splits:
        return ["## Test metrics", "", "No metrics were recorded.", ""]
    names = sorted(
        {k for s in splits for k in _scalars(metrics[s])}, key=lambda k: (k != plan.task.metric, k)
    )
    rows = [
        [
            f"**{n}**" if n == plan.task.metric else n,
            *(_fmt(_scalars(metrics[s]).get(n)) for s in splits),
        ]
        for n in names
    ]
    return ["## Test metrics", "", *_table(["metric", *splits], rows)]


def per_class(plan: Plan, split: str, test: Mapping[str, Any]) -> list[str]:
    """Precision, recall, F1 and support per label (per entity type for ner)."""
    per_class = test.get("per_class") or {}
    if not per_class:
        return []
    word = TASK_RULES[plan.task.type].class_word
    title = "label" if word == "class" else word
    rows = [
        [cell(name), *(_fmt(row.get(k)) for k in ("precision", "recall", "f1", "support"))]
        for name, row in per_class.items()
    ]
    return [
        f"## Per-class metrics ({split})",
        "",
        *_table([title, "precision", "recall", "F1", "support"], rows),
    ]


def confusion(split: str, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> list[str]:
    """The matrix as a table (up to `_CM_TABLE_MAX` labels) and the most frequent confusions."""
    lines = [
        f"## Confusion matrix ({split})",
        "",
        "Rows are true labels, columns predicted labels.",
        "",
    ]
    if len(labels) <= _CM_TABLE_MAX:
        lines += _table(
            ["true \\ predicted", *(cell(lb, 20) for lb in labels)],
            [
                [cell(lb, 20), *(str(c) for c in row)]
                for lb, row in zip(labels, matrix, strict=True)
            ],
        )
    pairs = sorted(
        ((c, i, j) for i, row in enumerate(matrix) for j, c in enumerate(row) if i != j and c),
        reverse=True,
    )[:10]
    if pairs:
        lines += ["Most frequent confusions:", ""]
        lines += [f"- {cell(labels[i])} → {cell(labels[j])}: {c:,}" for c, i, j in pairs]
        lines.append("")
    return lines


def _rate(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, int | float) else "-"


def distill_section(plan: Plan, metrics: Mapping[str, Any]) -> list[str]:
    """A distill run: teacher against student (test metric, parameters, rows/s) and where the
    teacher's own report is."""
    figures = metrics.get("distill")
    if not isinstance(figures, Mapping):
        return []
    metric = plan.task.metric
    test = metrics.get("test") or {}
    teacher_test = figures.get("teacher_test") or {}
    rows = [
        [f"test {metric}", _fmt(teacher_test.get(metric)), _fmt(test.get(metric))],
        [
            "parameters",
            _fmt(figures.get("teacher_parameters")),
            _fmt(figures.get("student_parameters")),
        ],
        [
            "rows/s (validation, batch 64)",
            _rate(figures.get("teacher_rows_per_s")),
            _rate(figures.get("student_rows_per_s")),
        ],
        [
            "training time",
            _duration(figures.get("teacher_train_seconds")),
            _duration(metrics.get("train_seconds")),
        ],
    ]
    where = Path(str(figures.get("teacher", "")))
    lines = ["## Teacher and student", "", *_table(["", "teacher", "student"], rows)]
    lines += [
        f"Teacher: `{cell(str(where))}` (its own `report.md` and `metrics.json` are there).",
        "",
    ]
    return lines
