"""Prediction files that read back exactly: csv/tsv, JSON Lines and Parquet writers.

- csv/tsv are written the RFC 4180 way (`\\r\\n` between records, any field holding a delimiter,
  a quote, `\\r` or `\\n` quoted), so Python's csv module and pandas read back every row as
  written, carriage returns in the text included.
- A text cell a spreadsheet would evaluate as a formula (it starts with `=`, `+`, `-`, `@`, a
  tab or a carriage return) gets a leading apostrophe, as OWASP recommends against CSV
  injection; numbers are left alone. `escape_formulas=False` writes cells as they are (for
  programs that read the file, not people).
- JSON Lines and Parquet hold any text as it is: no quoting, no escaping, nothing to neutralise.

The output path and format are checked by `check_output` before any work, and the file is
written under a temporary name and renamed into place when complete: an interrupted
`etb predict` never leaves a half-written file, nor replaces one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from etbuilder.errors import DataError, MissingExtraError

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}
"""Output file extension -> format."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP, CSV injection)."""


def check_output(path: Path, input_file: Path | None = None, *, overwrite: bool = False) -> str:
    """The format to write `path` in; raise DataError, before any work, for a path that cannot be
    written: an unknown extension, a folder, the input itself, an existing file (unless
    `overwrite`), a parent that is a file or cannot be written."""
    if path.is_dir():
        raise DataError("this is a folder", file=str(path), hint="name a file to write")
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot write predictions as {path.suffix or 'a file without extension'!r}",
            file=str(path),
            hint="name the output .csv, .tsv, .jsonl or .parquet",
        )
    same = input_file is not None and path.exists() and input_file.exists()
    if same and input_file is not None and path.resolve() == input_file.resolve():
        raise DataError(
            "the output is the input file", file=str(path), hint="write to another file"
        )
    if path.exists() and not overwrite:
        raise DataError(
            "the file exists already; it is left as it is",
            file=str(path),
            hint="name a new file, or pass --overwrite to replace it",
        )
    folder = path.parent
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise DataError(
                    f"cannot create the file: {ancestor} is a file, not a folder",
                    file=str(path),
                )
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".etb-write-check-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise DataError(
            f"cannot write into {folder}: {error.strerror or type(error).__name__}",
            file=str(path),
            hint="choose a folder you can write to",
        ) from None
    return fmt


def prediction_records(
    table: Any,
    predictions: list[Any],
    scores: list[Any] | None,
    fmt: str,
    separator: str | None,
    delimiter: str,
) -> list[dict[str, Any]]:
    """`table`'s rows with `prediction` (and `score`) columns; in csv/tsv a list prediction
    (labels of a multilabel task, a vector) becomes one cell joined by `separator` (default: a
    space, or a comma in a space-delimited file)."""
    extra = ("prediction", "score")
    kept = [c for c in table.columns if c not in extra]
    joiner = separator or (" " if delimiter != " " else ",")
    records = []
    for i, row in enumerate(table.rows()):
        record = {c: row[c] for c in kept}
        prediction = predictions[i]
        if fmt in ("csv", "tsv") and isinstance(prediction, list | tuple):
            prediction = joiner.join(str(v) for v in prediction)
        record["prediction"] = prediction
        if scores is not None:
            record["score"] = scores[i]
        records.append(record)
    return records


def escape_formula(value: Any) -> Any:
    """`value` with a leading apostrophe when a spreadsheet would evaluate it as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value  # a number such as -1.5 is not a formula


class PredictionWriter:
    """Rows written as they come, to a temporary file renamed into place by `close()`.

    The first `write` fixes the columns; later rows must not bring new ones.
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        *,
        delimiter: str | None = None,
        escape_formulas: bool = True,
    ) -> None:
        self.path = path
        self.format = fmt
        self.delimiter = delimiter or ("\t" if fmt == "tsv" else ",")
        self.escape_formulas = escape_formulas
        self.columns: list[str] | None = None
        self.rows = 0
        self.partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        self._handle: Any = None
        self._csv: Any = None
        self._parquet: Any = None
        self._schema: Any = None

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append rows (dicts keyed by column)."""
        if not records:
            return
        if self.columns is None:
            self.columns = list(dict.fromkeys(k for r in records for k in r))
            self._open()
        else:
            known = set(self.columns)
            new = [k for r in records for k in r if k not in known]
            if new and self.format != "jsonl":
                raise DataError(
                    f"row {self.rows + 1 + next(i for i, r in enumerate(records) if new[0] in r)}"
                    f" has the field {new[0]!r}, which the first rows do not have",
                    file=str(self.path),
                    hint="give every record the same fields, or write .jsonl",
                )
        getattr(self, f"_write_{self.format}")(records)
        self.rows += len(records)

    def _open(self) -> None:
        if self.format == "parquet":
            return
        self._handle = open(self.partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
        if self.format in ("csv", "tsv"):
            self._csv = csv.writer(
                self._handle,
                delimiter=self.delimiter,
                lineterminator="\r\n",
                quoting=csv.QUOTE_MINIMAL,
            )
            self._csv.writerow([self._cell(c) for c in self.columns or []])

    def _cell(self, value: Any) -> Any:
        if value is None:
            return ""
        return escape_formula(value) if self.escape_formulas else value

    def _write_csv(self, records: list[dict[str, Any]]) -> None:
        columns = self.columns or []
        self._csv.writerows([self._cell(r.get(c)) for c in columns] for r in records)

    _write_tsv = _write_csv

    def _write_jsonl(self, records: list[dict[str, Any]]) -> None:
        self._handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))

    def _write_parquet(self, records: list[dict[str, Any]]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingExtraError("pyarrow", "train") from None
        columns = self.columns or []
        rows = [{c: r.get(c) for c in columns} for r in records]
        if self._parquet is None:
            table = pa.Table.from_pylist(rows)
            fields = [
                pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                for f in table.schema
            ]
            self._schema = pa.schema(fields)
            self._parquet = pq.ParquetWriter(str(self.partial), self._schema)
        try:
            table = pa.Table.from_pylist(rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise DataError(
                f"rows {self.rows + 1}-{self.rows + len(rows)} do not fit the column types of "
                f"the first rows ({error})",
                file=str(self.path),
                hint="write .jsonl, which holds any mix of types",
            ) from None
        self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.columns is None:
            self.columns = []
            self._open()
        if self._handle is not None:
            self._handle.close()
        if self._parquet is not None:
            self._parquet.close()
        if self.partial.exists():
            os.replace(self.partial, self.path)

    def abandon(self) -> None:
        """Drop the temporary file (an error or an interrupt stopped the writing)."""
        with contextlib.suppress(Exception):
            if self._handle is not None:
                self._handle.close()
            if self._parquet is not None:
                self._parquet.close()
        with contextlib.suppress(OSError):
            self.partial.unlink()
