"""Record formats: JSON Lines (one object per line) and Parquet (pyarrow, optional)."""

from __future__ import annotations

import json
from typing import Any

from etbuilder.data._text import decode, read_bytes, split_lines
from etbuilder.data.table import Table
from etbuilder.errors import DataError, MissingExtraError
from etbuilder.plan import SplitSource


def table_from_records(
    records: list[dict[str, Any]], lines: list[int], path: str, columns: list[str] | None
) -> Table:
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(key, None)
    data = {name: [record.get(name) for record in records] for name in names}
    table = Table(list(names), data, lines, path)
    if columns:
        if len(columns) != len(table.columns):
            raise DataError(
                f"`columns` names {len(columns)} columns but the records have "
                f"{len(table.columns)}: {', '.join(table.columns)}",
                file=path,
                hint="leave `columns:` out: record fields already have names",
            )
        table = table.rename(columns)
    return table


def read_jsonl(source: SplitSource) -> Table:
    """One JSON object per line; blank lines are skipped. A whole-file JSON array also works."""
    path = source.path
    text = decode(read_bytes(path), source.encoding, path)
    if text.lstrip().startswith("["):
        return _read_json_array(text, source)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, line in enumerate(split_lines(text), 1):
        if source.max_rows is not None and len(records) >= source.max_rows:
            break
        if not line.strip():
            continue
        value = parse_record(line, path, number)
        records.append(value)
        lines.append(number)
    if not records:
        raise DataError("the file holds no JSON records", file=path)
    return table_from_records(records, lines, path, source.columns)


def _read_json_array(text: str, source: SplitSource) -> Table:
    path = source.path
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON: {exc.msg}", file=path, row=exc.lineno, hint="fix the JSON syntax"
        ) from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DataError(
            "a JSON file must hold a list of objects, or one object per line (JSON Lines)",
            file=path,
        )
    if not value:
        raise DataError("the file holds no JSON records", file=path)
    records = value[: source.max_rows] if source.max_rows is not None else value
    # Rows have no line of their own in a JSON array: report the record's 1-based position.
    return table_from_records(records, list(range(1, len(records) + 1)), path, source.columns)


def read_parquet(source: SplitSource) -> Table:
    """A Parquet file via pyarrow; row numbers are 1-based positions."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "train") from None
    path = source.path
    read_bytes(path)  # same missing/unreadable/empty errors as the text formats
    try:
        arrow = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            f"not a readable Parquet file: {exc}",
            file=path,
            hint="check the file, or set `format:` if it is not Parquet",
        ) from None
    if source.max_rows is not None:
        arrow = arrow.slice(0, source.max_rows)
    if arrow.num_rows == 0:
        raise DataError("the file holds no rows", file=path)
    names = list(arrow.column_names)
    data = {name: arrow.column(name).to_pylist() for name in names}
    table = Table(names, data, list(range(1, arrow.num_rows + 1)), path)
    if source.columns:
        if len(source.columns) != len(names):
            raise DataError(
                f"`columns` names {len(source.columns)} columns but the file has "
                f"{len(names)}: {', '.join(names)}",
                file=path,
                hint="leave `columns:` out: Parquet columns already have names",
            )
        table = table.rename(source.columns)
    return table


def parse_record(line: str, path: str, number: int) -> dict[str, Any]:
    """One JSON Lines record: a JSON object, else DataError naming the line."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON at character {exc.colno}: {exc.msg}",
            file=path,
            row=number,
            hint="each line must hold one complete JSON object ({...})",
        ) from None
    if not isinstance(value, dict):
        raise DataError(
            f"expected a JSON object ({{...}}), found {type(value).__name__}",
            file=path,
            row=number,
            hint='write one object per line: {"text": "...", "label": "..."}',
        )
    return value
