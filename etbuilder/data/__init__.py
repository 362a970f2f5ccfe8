"""Reading data files into Tables, checking columns, and the seeded split (no torch)."""

from etbuilder.data.columns import check_columns
from etbuilder.data.readers import READERS, read_split
from etbuilder.data.rows import (
    SPLIT_NAMES,
    Examples,
    examples_from_table,
    fingerprint,
    load_examples,
    read_examples,
    require_split,
    rows_of,
    text_of,
)
from etbuilder.data.source import resolve_source
from etbuilder.data.split import ALGORITHM as SPLIT_ALGORITHM
from etbuilder.data.split import split_indices
from etbuilder.data.table import Table

__all__ = [
    "READERS",
    "SPLIT_ALGORITHM",
    "SPLIT_NAMES",
    "Examples",
    "Table",
    "check_columns",
    "examples_from_table",
    "fingerprint",
    "load_examples",
    "read_examples",
    "read_split",
    "require_split",
    "resolve_source",
    "rows_of",
    "split_indices",
    "text_of",
]
