"""An uploaded data file: the task, columns and read options it suggests, and its rows.

The inference is the library's (`etbuilder.data.infer.infer`, the function behind
`etb init --data FILE`): each choice comes with its reason. Only where that module is not
installed does the small rule set at the end of this file stand in for it, giving the same
shape of answer.
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
    """`task`, `text`, `label` (and `data.*` read options) -> why."""
    data: dict[str, Any] = field(default_factory=dict)
    """Read options for the spec's `data:` (format, header, columns, quoting)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other `task:` keys the inference set (a multilabel separator, ...)."""
    notes: list[str] = field(default_factory=list)
    """Choices the file left open, and how to change them."""
    source: str = "library"
    """Which code inferred it: `library` (etb init's) or `studio` (the stand-in below)."""


def read_table(path: Path, options: dict[str, Any] | None = None) -> Table:
    """All rows of a data file, read as `etb run` reads a training file (raises DataError)."""
    spec = DataSpec.model_validate({"train": {"path": str(path), **(options or {})}})
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


def inspect(path: Path) -> tuple[Inference, Table]:
    """What `etb init --data FILE` would choose for `path`, and the file's rows read that way.

    Raises DataError (with file, line and hint) for a file the readers cannot take."""
    module = _library()
    if module is None:
        table = read_table(path)
        return _fallback(table), table
    found = module.infer(path)
    task = dict(found.task)
    text = task.pop("text", [])
    label = task.pop("label", None)
    kind = str(task.pop("type", "classification"))
    reasons = {key.removeprefix("task."): why for key, why in found.reasons}
    reasons.setdefault("task", reasons.pop("type", ""))
    data: dict[str, Any] = {"format": found.format}
    if found.format in ("csv", "tsv"):
        data["header"] = found.header
        if found.columns:
            data["columns"] = list(found.columns)
        if not found.quoting:
            data["quoting"] = False
    inference = Inference(
        task=kind,
        text=[text] if isinstance(text, str) else list(text),
        label=label,
        reasons=reasons,
        data=data,
        extra=task,
        notes=list(found.notes),
        source="library",
    )
    return inference, read_table(path, data)


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
    """Stand-in for the library's inference: the longest texts are the text, the column with
    the fewest distinct values the label."""
    if "tokens" in table.columns and "tags" in table.columns:
        return Inference(
            "ner", ["tokens"], "tags", {"task": "word/tag columns (CoNLL)"}, source="studio"
        )
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
        return Inference("classification", text, None, reasons, source="studio")
    _, distinct, numeric, _ = stats[label]
    if numeric and distinct > 10:
        task, why = "regression", f"{label!r} holds numbers with {distinct} distinct values"
    elif any("," in str(v) for v in table.data[label]) and not numeric:
        task, why = "multilabel", f"{label!r} holds comma-separated tags"
    else:
        task, why = "classification", f"{label!r} has {distinct} distinct values"
    reasons["label"] = f"{label!r}: fewest distinct values ({distinct}) among the other columns"
    reasons["task"] = why
    return Inference(task, text, label, reasons, source="studio")
