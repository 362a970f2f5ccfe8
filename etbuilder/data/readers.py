"""`read_split`: one reader per file format, chosen from the SplitSource (a table, not a switch)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import get_args

from etbuilder.data.conll import read_conll
from etbuilder.data.delimited import read_delimited
from etbuilder.data.records import read_jsonl, read_parquet
from etbuilder.data.table import Table
from etbuilder.plan import SplitSource
from etbuilder.spec.data import EXTENSION_FORMATS, FileFormat

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


def _check_readers() -> None:
    """Every format the Plan and the spec can name has a reader, and no reader is orphaned."""
    plan_formats = set(get_args(SplitSource.model_fields["format"].annotation))
    spec_formats = set(get_args(FileFormat)) - {"auto"}
    if not (set(READERS) == plan_formats == spec_formats):
        raise RuntimeError(
            f"readers {sorted(READERS)}, plan formats {sorted(plan_formats)} and spec formats "
            f"{sorted(spec_formats)} disagree"
        )
    unknown = set(EXTENSION_FORMATS.values()) - set(READERS)
    if unknown:
        raise RuntimeError(f"EXTENSION_FORMATS maps to formats without a reader: {unknown}")


_check_readers()


def read_split(source: SplitSource) -> Table:
    """Read the whole file of `source` (its first `max_rows` rows when set) into a Table.

    Raises DataError naming the file, line and column, with a hint, for any problem.
    A split carved from train (`carved_from_train`) reads the training file: slice it
    with `split_indices`.
    """
    return READERS[source.format](source)
