"""csv/tsv files: Python's csv module, with errors that name the line and the fix."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from etbuilder.data._text import (
    decode,
    delimiter_name,
    delimiter_yaml,
    read_bytes,
    sniff_delimiter,
)
from etbuilder.data.table import Table
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource

DEFAULT_DELIMITERS = {"csv": ",", "tsv": "\t"}
"""Delimiter per format when the spec gives none."""


def default_column_names(count: int) -> list[str]:
    """Names of the columns of a file without header and without `columns:`."""
    return [f"column{i}" for i in range(1, count + 1)]


def _records(text: str, delimiter: str, quoting: bool) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record."""
    csv.field_size_limit(2**31 - 1)  # long texts are data, not an error
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        strict=True,
    )
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _QuoteError(start, str(exc)) from None
        if fields and any(f.strip() for f in fields):
            yield start, fields
        start = reader.line_num + 1


class _QuoteError(Exception):
    """csv's strict mode rejected a quote; carries the record's first line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def read_delimited(source: SplitSource) -> Table:
    """Read a csv/tsv file described by `source` into a Table."""
    path = source.path
    delimiter = source.delimiter or DEFAULT_DELIMITERS.get(source.format, ",")
    text = decode(read_bytes(path), source.encoding, path)
    records = _records(text, delimiter, source.quoting)
    try:
        names, lines, rows = _collect(source, records, text, delimiter)
    except _QuoteError as exc:
        detail = str(exc).replace(f"'{delimiter}'", delimiter_name(delimiter))
        raise DataError(
            f'a `"` is misplaced for a quoted field ({detail})',
            file=path,
            row=exc.line,
            hint='if `"` is part of the text rather than quotes around fields, '
            "set `quoting: false`; otherwise double the quotes inside quoted fields",
        ) from None
    if not rows:
        raise DataError(
            "the file has a header but no data rows" if source.header else "the file is empty",
            file=path,
        )
    data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return Table(names, data, lines, path)


def _collect(
    source: SplitSource, records: Iterator[tuple[int, list[str]]], text: str, delimiter: str
) -> tuple[list[str], list[int], list[list[str]]]:
    path = source.path
    first = next(records, None)
    if first is None:
        raise DataError("the file is empty", file=path)
    first_line, first_fields = first
    width = len(first_fields)
    expected = len(source.columns) if source.columns else width
    if expected > 1 and width == 1:
        _wrong_delimiter(source, text, delimiter, first_line, expected)
    if source.columns and expected != width:
        sniffed = sniff_delimiter(text)
        hint = f"list exactly {width} names under `columns:`"
        if sniffed and sniffed != delimiter:
            hint += (
                f", or, if the file is separated by {delimiter_name(sniffed)}, "
                f"set `delimiter: {delimiter_yaml(sniffed)}`"
            )
        raise DataError(
            f"`columns` names {expected} columns but line {first_line} has {width} fields "
            f"split on {delimiter_name(delimiter)}",
            file=path,
            row=first_line,
            hint=hint,
        )
    if source.quoting and delimiter == "\t":
        _check_swallowed_rows(source, first_line, first_fields, width)
    names = list(source.columns) if source.columns else None
    lines: list[int] = []
    rows: list[list[str]] = []
    if source.header:
        names = names or [f.strip() for f in first_fields]
        _check_header(names, path, first_line)
    else:
        names = names or default_column_names(width)
        lines.append(first_line)
        rows.append(first_fields)
    limit = source.max_rows
    for line, fields in records:
        if limit is not None and len(rows) >= limit:
            break
        if len(fields) != width:
            _ragged(source, text, line, len(fields), width, delimiter)
        if source.quoting and delimiter == "\t":
            _check_swallowed_rows(source, line, fields, width)
        lines.append(line)
        rows.append(fields)
    return names, lines, rows


def _check_header(names: list[str], path: str, line: int) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names, 1):
        if not name:
            raise DataError(
                f"header field {i} is empty",
                file=path,
                row=line,
                hint="name every column in the header, or set `header: false` and `columns:`",
            )
        if name in seen:
            raise DataError(
                f"the header names column {name!r} twice",
                file=path,
                row=line,
                hint="rename one of them, or set `columns:` to rename all",
            )
        seen.add(name)


def _wrong_delimiter(
    source: SplitSource, text: str, delimiter: str, line: int, expected: int
) -> None:
    sniffed = sniff_delimiter(text)
    hint = (
        f"the first lines look separated by {delimiter_name(sniffed)}: "
        f"set `delimiter: {delimiter_yaml(sniffed)}`"
        if sniffed and sniffed != delimiter
        else "set `delimiter:` to the character between fields"
    )
    raise DataError(
        f"split on {delimiter_name(delimiter)}, line {line} is a single field, "
        f"but {expected} columns are expected: wrong delimiter?",
        file=source.path,
        row=line,
        hint=hint,
    )


def _check_swallowed_rows(source: SplitSource, line: int, fields: list[str], width: int) -> None:
    """A bare `"` in a TSV opens a quoted field that swallows the following rows."""
    for field in fields:
        if "\n" not in field:
            continue
        for piece in field.split("\n")[1:]:
            if piece.rstrip("\r").count("\t") == width - 1:
                raise DataError(
                    "a quoted field runs over several lines that look like rows of their own: "
                    'a `"` inside the text was read as the start of a quoted field',
                    file=source.path,
                    row=line,
                    hint='set `quoting: false` to read `"` as an ordinary character',
                )


def _ragged(
    source: SplitSource, text: str, line: int, got: int, width: int, delimiter: str
) -> None:
    where = "the header" if source.header else "the first row"
    hint = f"every row needs {width} fields split on {delimiter_name(delimiter)}"
    if source.quoting and '"' in text:
        hint = (
            'the file contains `"` characters: if they are part of the text rather than '
            "quotes around fields, set `quoting: false`"
        )
    elif got > width:
        hint += "; quote fields that contain the delimiter"
    raise DataError(
        f"{got} fields where {where} has {width}",
        file=source.path,
        row=line,
        hint=hint,
    )
