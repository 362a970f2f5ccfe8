"""`resolve_source`: per-file read options over data-level ones, format from the extension."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar, cast

from etbuilder.data._text import sniff_delimiter
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource
from etbuilder.spec.data import EXTENSION_FORMATS, DataFile, DataSpec

SplitName = Literal["train", "validation", "test"]
Format = Literal["csv", "tsv", "jsonl", "parquet", "conll"]
T = TypeVar("T")


def resolve_source(
    spec_data: DataSpec, which: str, base_dir: str | Path | None = None
) -> SplitSource | None:
    """Where split `which` (train, validation or test) comes from, with every option resolved.

    A split with its own file reads it. A split without one is carved from the training file
    (`carved_from_train=True`, same path and options as train) when `data.split` holds a
    non-zero fraction for it; otherwise there is no such split and this returns None.
    Relative paths are joined to `base_dir` (the spec file's folder) when given.
    """
    if which not in ("train", "validation", "test"):
        raise ValueError(f"unknown split {which!r}: use train, validation or test")
    name = cast(SplitName, which)
    file: DataFile | None = getattr(spec_data, name)
    carved = False
    if file is None:
        fraction = getattr(spec_data.split, name, 0.0) if spec_data.split else 0.0
        if not fraction:
            return None
        file, carved = spec_data.train, True
    path = Path(file.path).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    fmt = _format(file.format or spec_data.format, path)
    return SplitSource(
        name=name,
        path=str(path),
        format=fmt,
        delimiter=_pick(file.delimiter, spec_data.delimiter),
        header=_pick(file.header, spec_data.header),
        columns=_pick(file.columns, spec_data.columns),
        quoting=_pick(file.quoting, spec_data.quoting),
        encoding=_pick(file.encoding, spec_data.encoding),
        max_rows=spec_data.max_train_rows if name == "train" or carved else None,
        carved_from_train=carved,
    )


def _pick(file_value: T | None, data_value: T) -> T:
    return data_value if file_value is None else file_value


def _format(fmt: str, path: Path) -> Format:
    if fmt != "auto":
        return cast(Format, fmt)
    suffix = path.suffix.lower()
    if suffix in EXTENSION_FORMATS:
        return cast(Format, EXTENSION_FORMATS[suffix])
    known = ", ".join(sorted(EXTENSION_FORMATS))
    hint = f"set `format:` (csv, tsv, jsonl, parquet or conll); known extensions: {known}"
    guess = _sniff_format(path)
    if guess:
        hint = f"the first lines look like {guess}: set `format: {guess}`"
    raise DataError(
        f"cannot tell the format from the extension {suffix or '(none)'!r}",
        file=str(path),
        hint=hint,
    )


def _sniff_format(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return None
    if head.lstrip().startswith("{"):
        return "jsonl"
    delimiter = sniff_delimiter(head)
    return {"\t": "tsv", ",": "csv"}.get(delimiter or "")
