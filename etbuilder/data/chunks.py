"""`iter_chunks`: a data file as Tables of a bounded number of rows, read as they are consumed.

`etb predict` labels files of any size with one chunk in memory at a time. csv/tsv, JSON Lines
and Parquet files stream; a CoNLL file or a whole-file JSON array is read at once (those
formats hold sentences or one document, not millions of independent rows) and then sliced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from etbuilder.data._text import codec_name, read_bytes
from etbuilder.data.delimited import iter_delimited
from etbuilder.data.readers import read_split
from etbuilder.data.records import parse_record, table_from_records
from etbuilder.data.table import Table
from etbuilder.errors import DataError, MissingExtraError
from etbuilder.plan import SplitSource

CHUNK_ROWS = 2048
"""Rows per chunk: large enough for batching, small enough that memory stays flat."""


def iter_chunks(source: SplitSource, rows: int = CHUNK_ROWS) -> Iterator[Table]:
    """Tables of at most `rows` rows of `source`'s file, in file order (at least one)."""
    if source.format in ("csv", "tsv"):
        yield from iter_delimited(source, rows)
    elif source.format == "jsonl" and not _json_array(source):
        yield from _iter_jsonl(source, rows)
    elif source.format == "parquet":
        yield from _iter_parquet(source, rows)
    else:
        table = read_split(source)
        for start in range(0, len(table), rows):
            yield table.take(range(start, min(start + rows, len(table))))


def _json_array(source: SplitSource) -> bool:
    head = read_bytes(source.path, limit=4096)
    return head.decode(codec_name(source.encoding, source.path), "replace").lstrip().startswith("[")


def _iter_jsonl(source: SplitSource, rows: int) -> Iterator[Table]:
    path = source.path
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    seen = False
    with open(path, encoding=codec_name(source.encoding, path), newline="\n") as handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                records.append(parse_record(line, path, number))
                lines.append(number)
                if len(records) >= rows:
                    yield table_from_records(records, lines, path, source.columns)
                    seen, records, lines = True, [], []
        except UnicodeDecodeError as exc:
            raise DataError(
                f"the file is not valid {handle.encoding} (byte 0x{exc.object[exc.start]:02x})",
                file=path,
                hint="save it as UTF-8",
            ) from None
    if records:
        yield table_from_records(records, lines, path, source.columns)
    elif not seen:
        raise DataError("the file holds no JSON records", file=path)


def _iter_parquet(source: SplitSource, rows: int) -> Iterator[Table]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "train") from None
    path = source.path
    read_bytes(path, limit=1)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"not a readable Parquet file: {exc}", file=path) from None
    start = 0
    for batch in parquet.iter_batches(batch_size=rows):
        names = list(batch.schema.names)
        data = {name: batch.column(i).to_pylist() for i, name in enumerate(names)}
        table = Table(names, data, range(start + 1, start + batch.num_rows + 1), path)
        start += batch.num_rows
        yield table.rename(source.columns) if source.columns else table
    if start == 0:
        raise DataError("the file holds no rows", file=path)
