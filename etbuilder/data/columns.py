"""`check_columns`: the columns the task needs must exist, or the error says which are there."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from etbuilder.data._text import DELIMITER_CANDIDATES, delimiter_name, delimiter_yaml
from etbuilder.data.table import Table
from etbuilder.errors import DataError


def check_columns(table: Table, needed: Mapping[str, str], file: str | None = None) -> None:
    """Raise DataError when a column named in `needed` ({role: column name}) is missing.

    `role` is what the column is for (e.g. `task.text`, `task.label`); the error names the
    file, the missing column, the columns present and the closest match.
    """
    present = list(table.columns)
    where = file or table.file
    for role, name in needed.items():
        if name in table.data:
            continue
        hint = _suggest(name, present)
        raise DataError(
            f"{role} names column {name!r}, which is not in the file; "
            f"columns present: {', '.join(present)}",
            file=where,
            column=name,
            hint=hint,
        )


def _suggest(name: str, present: list[str]) -> str:
    if len(present) == 1:
        only = present[0]
        for cand in DELIMITER_CANDIDATES:
            if cand in only:
                return (
                    f"the header {only!r} looks separated by {delimiter_name(cand)}: "
                    f"set `delimiter: {delimiter_yaml(cand)}`"
                )
    lowered = {c.lower(): c for c in present}
    if name.lower() in lowered:
        return f"did you mean {lowered[name.lower()]!r}? (column names are case-sensitive)"
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    if all(c.startswith("column") for c in present):
        return (
            "the file was read without a header: name its columns with "
            f"`columns: [...]` ({len(present)} names)"
        )
    return f"use one of: {', '.join(present)}"
