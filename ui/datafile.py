"""An uploaded data file: the task, columns and read options it suggests, and its rows.

The inference is the library's (`etbuilder.data.infer.infer`, the function behind
`etb init --data FILE`): each choice comes with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etbuilder.data.infer import infer
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


def read_table(path: Path, options: dict[str, Any] | None = None) -> Table:
    """All rows of a data file, read as `etb run` reads a training file (raises DataError)."""
    spec = DataSpec.model_validate({"train": {"path": str(path), **(options or {})}})
    source = resolve_source(spec, "train")
    assert source is not None
    return read_split(source)


def preview(table: Table, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    return [{c: table.data[c][i] for c in table.columns} for i in range(min(rows, len(table)))]


def inspect(path: Path) -> tuple[Inference, Table]:
    """What `etb init --data FILE` would choose for `path`, and the file's rows read that way.

    Raises DataError (with file, line and hint) for a file the readers cannot take."""
    found = infer(path)
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
    )
    return inference, read_table(path, data)
