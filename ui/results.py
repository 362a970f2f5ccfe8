"""What the Results page reads from a finished run folder (metrics.json, predictions, plots)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etbuilder.plan import Plan


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_plan(run: Path) -> Plan | None:
    try:
        return Plan.from_json((run / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def scores(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scalar metric: its test and validation values."""
    names: list[str] = []
    for split in ("test", "validation"):
        for key, value in (metrics.get(split) or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key not in names:
                names.append(key)
    return [
        {
            "metric": key,
            "test": (metrics.get("test") or {}).get(key),
            "validation": (metrics.get("validation") or {}).get(key),
        }
        for key in names
        if key != "n"
    ]


def confusion(metrics: dict[str, Any], labels: list[str]) -> dict[str, dict[str, int]] | None:
    """Test confusion matrix as {predicted label: {true label: count}} (columns of a table)."""
    matrix = (metrics.get("test") or {}).get("confusion_matrix")
    if not isinstance(matrix, list) or len(matrix) != len(labels):
        return None
    return {
        f"predicted {p}": {f"true {t}": matrix[i][j] for i, t in enumerate(labels)}
        for j, p in enumerate(labels)
    }


def per_class(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (metrics.get("test") or {}).get("per_class") or {}
    return [{"class": name, **values} for name, values in rows.items() if isinstance(values, dict)]


def predictions(run: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        text = (run / "predictions.jsonl").read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def comparison(runs: list[Path]) -> list[dict[str, Any]]:
    """Finished runs side by side: what they were and what they scored."""
    table = []
    for run in runs:
        metrics, plan = read_json(run / "metrics.json"), read_plan(run)
        if not metrics or plan is None:
            continue
        metric = plan.task.metric
        table.append(
            {
                "run": run.name,
                "strategy": plan.strategy.type,
                "backbone": plan.backbone.name,
                "epochs": plan.schedule.epochs,
                f"test {metric}": (metrics.get("test") or {}).get(metric),
                f"validation {metric}": (metrics.get("validation") or {}).get(metric),
                "training seconds": metrics.get("train_seconds"),
            }
        )
    return table


def is_study(folder: Path) -> bool:
    """Whether `folder` is an `etb tune` study (study.json) rather than a single run."""
    return (folder / "study.json").is_file()


def trials(study: Path) -> list[dict[str, str]]:
    """The tune history of a study folder (`trials.csv`, one trial a row)."""
    import csv

    try:
        text = (study / "trials.csv").read_text(encoding="utf-8")
    except OSError:
        return []
    return list(csv.DictReader(text.splitlines()))
