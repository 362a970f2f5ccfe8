"""Reading a text data file into one string, with errors that say where and how to fix."""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path

from etbuilder.errors import DataError

DELIMITER_CANDIDATES = ("\t", ",", ";", "|")
"""Delimiters `sniff_delimiter` considers, in order of preference on ties."""

_DELIMITER_NAMES = {"\t": "a tab", ",": "a comma", ";": "a semicolon", "|": "a pipe"}


def delimiter_name(delimiter: str) -> str:
    """`a tab`, `a comma`, ... for messages."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def delimiter_yaml(delimiter: str) -> str:
    """How to write `delimiter` in the spec's YAML."""
    return '"\\t"' if delimiter == "\t" else f'"{delimiter}"'


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The bytes of `path` (its first `limit` bytes when given); missing, unreadable and folder
    paths raise DataError."""
    p = Path(path)
    try:
        if limit is None:
            data = p.read_bytes()
        else:
            with p.open("rb") as handle:
                data = handle.read(limit)
    except FileNotFoundError:
        parent = p.parent
        hint = "check the path; relative paths are relative to the spec file's folder"
        if parent.is_dir():
            near = sorted(x.name for x in parent.iterdir() if x.is_file())[:8]
            if near:
                hint += f"; {parent} holds: {', '.join(near)}"
        raise DataError("file not found", file=path, hint=hint) from None
    except IsADirectoryError:
        raise DataError(
            "this is a folder, not a data file", file=path, hint="name a file inside it"
        ) from None
    except PermissionError:
        raise DataError(
            "permission denied: the file cannot be read",
            file=path,
            hint="make the file readable by this user (chmod +r)",
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", file=path) from None
    if not data.strip():
        raise DataError("the file is empty", file=path, hint="check the path and the export")
    return data


def codec_name(encoding: str, path: str) -> str:
    """The codec to read a file in `encoding` with (`utf-8-sig` for UTF-8: a BOM is never data);
    an unknown encoding raises DataError."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(
            f"unknown text encoding {encoding!r}",
            file=path,
            hint="use a Python codec name such as utf-8, utf-8-sig, latin-1 or cp1252",
        ) from None
    return "utf-8-sig" if name == "utf-8" else encoding


def decode(data: bytes, encoding: str, path: str) -> str:
    """`data` decoded; a UTF-8 byte-order mark is dropped. Bad bytes raise DataError."""
    encoding = codec_name(encoding, path)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid {encoding}",
            file=path,
            row=line,
            hint=f"set `encoding:` to the file's encoding, e.g. {_guess_encoding(data)}",
        ) from None


def _guess_encoding(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for candidate in ("utf-8", "cp1252"):
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return candidate
    return "latin-1"


def split_lines(text: str) -> list[str]:
    """Physical lines without their line ending (\\n, \\r\\n); a final newline adds no line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def sniff_delimiter(text: str, max_lines: int = 20) -> str | None:
    """The delimiter that splits the first lines into the same number (> 1) of fields."""
    lines = [line for line in split_lines(text[:200_000])[:max_lines] if line.strip()]
    if not lines:
        return None
    best: tuple[int, int, str] | None = None
    for rank, cand in enumerate(DELIMITER_CANDIDATES):
        counts = Counter(line.count(cand) for line in lines)
        fields, hits = counts.most_common(1)[0]
        if fields == 0:
            continue
        score = (hits, -rank, cand)
        if best is None or score[:2] > best[:2]:
            best = score
    return best[2] if best else None
