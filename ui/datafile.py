"""An uploaded data file: its rows (read by etbuilder's own readers) and the task it suggests.

`infer_task` is the one place where the studio guesses a task and columns. It asks the library
first (`etbuilder.data.infer.infer_data`, the function behind `etb init --data FILE`) and only
while that is not installed falls back to the small rule set below, which gives each choice
with its reason in the same form.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etbuilder.data.readers import read_split
from etbuilder.data.source import resolve_source
from etbuilder.data.table import Table
from etbuilder.spec.data import DataSpec

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class Inference:
    """The task and columns suggested for a data file, each with its reason."""

    task: str
    text: list[str]
    label: str | None
    reasons: dict[str, str] = field(default_factory=dict)
    """`task`, `text`, `label` -> why."""
    source: str = "library"
    """Which code inferred it: `library` (etb init's) or `studio` (the fallback below)."""


def read_table(path: Path) -> Table:
    """All rows of a data file, read as `etb run` reads a training file (raises DataError)."""
    spec = DataSpec.model_validate({"train": str(path)})
    source = resolve_source(spec, "train")
    assert source is not None
    return read_split(source)


def preview(table: Table, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    return [{c: table.data[c][i] for c in table.columns} for i in range(min(rows, len(table)))]


def _library() -> Any:
    try:
        return importlib.import_module("etbuilder.data.infer")
    except ImportError:
        return None


def infer_task(path: Path, table: Table) -> Inference:
    """The task and columns `etb init --data FILE` would choose, with reasons."""
    module = _library()
    if module is not None and hasattr(module, "infer_data"):
        found = module.infer_data(path)
        text = found.text if isinstance(found.text, list) else [found.text]
        return Inference(found.task, list(text), found.label, dict(found.reasons), "library")
    return _fallback(table)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _fallback(table: Table) -> Inference:
    if "tokens" in table.columns and "tags" in table.columns:
        return Inference("ner", ["tokens"], "tags", {"task": "word/tag columns (CoNLL)"}, "studio")
    stats = {}
    for c in table.columns:
        values = [v for v in table.data[c] if v not in (None, "")]
        strings = [str(v) for v in values]
        mean_len = sum(len(s) for s in strings) / max(len(strings), 1)
        distinct = len(set(strings))
        numeric = bool(values) and all(_is_number(v) for v in values)
        stats[c] = (mean_len, distinct, numeric, len(values))
    by_length = sorted(table.columns, key=lambda c: -stats[c][0])
    texty = [c for c in by_length if not stats[c][2] and stats[c][1] > 0.5 * max(stats[c][3], 1)]
    text = texty[:1] or by_length[:1]
    rest = [c for c in table.columns if c not in text]
    label = min(rest, key=lambda c: stats[c][1]) if rest else None
    reasons = {"text": f"{text[0]!r} holds the longest texts (mean {stats[text[0]][0]:.0f} chars)"}
    if label is None:
        reasons["task"] = "no label column"
        return Inference("classification", text, None, reasons, "studio")
    _, distinct, numeric, _ = stats[label]
    if numeric and distinct > 10:
        task, why = "regression", f"{label!r} holds numbers with {distinct} distinct values"
    elif any("," in str(v) for v in table.data[label]) and not numeric:
        task, why = "multilabel", f"{label!r} holds comma-separated tags"
    else:
        task, why = "classification", f"{label!r} has {distinct} distinct values"
    reasons["label"] = f"{label!r}: fewest distinct values ({distinct}) among the other columns"
    reasons["task"] = why
    return Inference(task, text, label, reasons, "studio")
