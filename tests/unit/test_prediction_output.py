"""Prediction files read back exactly: a table of hostile texts through every output format,
read with Python's csv module and pandas; formula cells neutralised; the input streamed in
chunks that add up to the whole file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from etbuilder.data import read_split
from etbuilder.data.chunks import iter_chunks
from etbuilder.data.output import PredictionWriter, check_output, escape_formula
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource

HOSTILE_TEXTS = [
    "plain text",
    "a lone\rcarriage return",
    "a windows\r\nline break",
    "a unix\nline break",
    "ends with a carriage return\r",
    '"quoted" and "more"',
    "comma, separated",
    "tab\tseparated",
    '=HYPERLINK("http://example.com","click")',
    "+33 6 12 34 56",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "",
    "  leading spaces",
    "ünïcödé ✓ 😀",
    "-5",
    "1e3",
]
"""Texts and what each must come back as (escaped: a leading apostrophe on formulas)."""
FORMULAS = {
    '=HYPERLINK("http://example.com","click")',
    "+33 6 12 34 56",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
}


def _records() -> list[dict[str, object]]:
    return [
        {"id": str(i), "text": text, "prediction": "spam" if i % 2 else "=cmd", "score": 0.5}
        for i, text in enumerate(HOSTILE_TEXTS)
    ]


def _expected(escape: bool) -> list[str]:
    return [("'" + t if escape and t in FORMULAS else t) for t in HOSTILE_TEXTS]


def _write(path: Path, escape: bool = True) -> None:
    fmt = check_output(path)
    with PredictionWriter(path, fmt, escape_formulas=escape) as writer:
        records = _records()
        writer.write(records[:7])  # two writes: the header is written once
        writer.write(records[7:])


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
@pytest.mark.parametrize("escape", [True, False], ids=["escaped", "raw"])
def test_delimited_output_reads_back_row_for_row(suffix: str, escape: bool, tmp_path: Path) -> None:
    path = tmp_path / f"out{suffix}"
    _write(path, escape)
    delimiter = "\t" if suffix == ".tsv" else ","
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    assert [r["text"] for r in rows] == _expected(escape)
    assert [r["id"] for r in rows] == [str(i) for i in range(len(HOSTILE_TEXTS))]
    frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False)
    assert list(frame["text"]) == _expected(escape)
    assert list(frame["id"]) == [str(i) for i in range(len(HOSTILE_TEXTS))]
    assert list(frame["prediction"])[:2] == (["'=cmd", "spam"] if escape else ["=cmd", "spam"])


def test_jsonl_and_parquet_hold_the_texts_as_they_are(tmp_path: Path) -> None:
    _write(tmp_path / "out.jsonl")
    _write(tmp_path / "out.parquet")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")
    assert [json.loads(line)["text"] for line in lines if line] == HOSTILE_TEXTS
    assert list(pd.read_parquet(tmp_path / "out.parquet")["text"]) == HOSTILE_TEXTS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("-1.5", "-1.5"),
        ("-1.5x", "'-1.5x"),
        ("+1", "+1"),
        ("@x", "'@x"),
        ("\r@x", "'\r@x"),
        ("a=1", "a=1"),
        (-3.0, -3.0),
        (None, None),
    ],
)
def test_escape_formula(value: object, expected: object) -> None:
    assert escape_formula(value) == expected


def _bad_output(tmp_path: Path, name: str) -> tuple[Path, Path, str]:
    source = tmp_path / "in.csv"
    source.write_text("text\nhello\n", encoding="utf-8")
    cases = {
        "unknown-format": (tmp_path / "out.xlsx", "cannot write predictions as '.xlsx'"),
        "folder": (tmp_path, "this is a folder"),
        "exists": (tmp_path / "mine.csv", "the file exists already; it is left as it is"),
        "the-input": (source, "the output is the input file"),
        "under-a-file": (tmp_path / "in.csv" / "out.csv", "in.csv is a file, not a folder"),
    }
    (tmp_path / "mine.csv").write_text("my data\n", encoding="utf-8")
    path, message = cases[name]
    return source, path, message


@pytest.mark.parametrize(
    "name", ["unknown-format", "folder", "exists", "the-input", "under-a-file"]
)
def test_unwritable_output_is_refused(name: str, tmp_path: Path) -> None:
    source, path, message = _bad_output(tmp_path, name)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(DataError) as raised:
        check_output(path, source)
    assert message in raised.value.render()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_overwrite_replaces_only_when_asked_and_never_the_input(tmp_path: Path) -> None:
    source, path, _ = _bad_output(tmp_path, "exists")
    assert check_output(path, source, overwrite=True) == "csv"
    with pytest.raises(DataError, match="the output is the input file"):
        check_output(source, source, overwrite=True)


def test_an_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), PredictionWriter(path, "csv") as writer:
        writer.write(_records())
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


CHUNK_FILES = {
    "header.csv": ("csv", 'id,text\n1,a\n2,"b\nc"\n\n3,d\r\n4,e\n5,f\n6,g\n7,h\n'),
    "no-header.tsv": ("tsv", "a\tx\nb\ty\nc\tz\nd\tw\ne\tv\n"),
    "records.jsonl": (
        "jsonl",
        '{"t": "a"}\n\n{"t":\r "b"}\r\n{"t": "c\\r"}\n{"t": "d"}\n{"t": "e"}\n',
    ),
}


@pytest.mark.parametrize("name", sorted(CHUNK_FILES))
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_chunks_add_up_to_the_whole_file(name: str, size: int, tmp_path: Path) -> None:
    fmt, text = CHUNK_FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    source = SplitSource(name="test", path=str(path), format=fmt, header=fmt != "tsv")
    whole = read_split(source)
    chunks = list(iter_chunks(source, size))
    assert all(len(c) <= size for c in chunks)
    assert [row for c in chunks for row in c.rows()] == list(whole.rows())
    assert [line for c in chunks for line in c.lines] == list(whole.lines)


def test_chunked_read_reports_a_bad_row_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,text\n" + "".join(f"{i},t\n" for i in range(50)) + "9,x,extra\n")
    source = SplitSource(name="test", path=str(path), format="csv")
    with pytest.raises(DataError) as raised:
        list(iter_chunks(source, 8))
    assert raised.value.row == 52 and "3 fields where the header has 2" in raised.value.message


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a read-only /sys")
def test_output_in_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        check_output(Path("/sys/predictions.csv"))
    assert "cannot write into /sys" in raised.value.render()
