"""`read_split`: one reader per file format, chosen from the SplitSource (a table, not a switch)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from etbuilder.compiler.plan import SplitSource
from etbuilder.data.conll import read_conll
from etbuilder.data.delimited import read_delimited
from etbuilder.data.records import read_jsonl, read_parquet
from etbuilder.data.table import Table

Reader = Callable[[SplitSource], Table]

READERS: MappingProxyType[str, Reader] = MappingProxyType(
    {
        "csv": read_delimited,
        "tsv": read_delimited,
        "jsonl": read_jsonl,
        "parquet": read_parquet,
        "conll": read_conll,
    }
)
"""Reader per `SplitSource.format`."""


def read_split(source: SplitSource) -> Table:
    """Read the whole file of `source` (its first `max_rows` rows when set) into a Table.

    Raises DataError naming the file, line and column, with a hint, for any problem.
    A split carved from train (`carved_from_train`) reads the training file: slice it
    with `split_indices`.
    """
    return READERS[source.format](source)
