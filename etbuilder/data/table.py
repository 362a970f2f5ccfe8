"""`Table`: a small immutable columnar table that remembers where each row came from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, init=False)
class Table:
    """Rows read from one data file, stored column by column.

    `lines[i]` is the 1-based line (csv/tsv/jsonl/conll) or row number (parquet) of row `i`
    in `file`, so errors and reports can point the user at it.
    """

    columns: tuple[str, ...]
    """Column names, in file order."""
    data: Mapping[str, tuple[Any, ...]]
    """Values per column (read-only)."""
    lines: tuple[int, ...]
    """Where each row starts in the file (1-based)."""
    file: str
    """The file the rows were read from."""

    def __init__(
        self,
        columns: Sequence[str],
        data: Mapping[str, Sequence[Any]],
        lines: Sequence[int],
        file: str = "<memory>",
    ) -> None:
        cols = tuple(columns)
        if len(set(cols)) != len(cols):
            dupes = sorted({c for c in cols if cols.count(c) > 1})
            raise ValueError(f"duplicate column names: {dupes}")
        if set(data) != set(cols):
            raise ValueError(f"data keys {sorted(data)} do not match columns {list(cols)}")
        frozen = {c: tuple(data[c]) for c in cols}
        n = len(lines)
        for c, values in frozen.items():
            if len(values) != n:
                raise ValueError(f"column {c!r} has {len(values)} values for {n} rows")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "data", MappingProxyType(frozen))
        object.__setattr__(self, "lines", tuple(lines))
        object.__setattr__(self, "file", file)

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return len(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> tuple[Any, ...]:
        """The values of one column (KeyError when absent; see `check_columns`)."""
        return self.data[name]

    def row(self, index: int) -> dict[str, Any]:
        """Row `index` (0-based) as a dict."""
        return {c: self.data[c][index] for c in self.columns}

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row as a dict, in order."""
        for i in range(len(self)):
            yield self.row(i)

    def take(self, indices: Sequence[int]) -> Table:
        """A new table with the rows at `indices` (0-based), in that order."""
        return Table(
            self.columns,
            {c: [self.data[c][i] for i in indices] for c in self.columns},
            [self.lines[i] for i in indices],
            self.file,
        )

    def head(self, n: int) -> Table:
        """The first `n` rows."""
        return self.take(range(min(n, len(self))))

    def rename(self, names: Sequence[str]) -> Table:
        """The same rows under new column names (one per column, in order)."""
        if len(names) != len(self.columns):
            raise ValueError(f"{len(names)} names for {len(self.columns)} columns")
        return Table(
            names,
            {new: self.data[old] for old, new in zip(self.columns, names, strict=True)},
            self.lines,
            self.file,
        )

    def __repr__(self) -> str:
        return f"Table({self.file!r}, rows={len(self)}, columns={list(self.columns)})"
