"""Readers on crafted files: each format, option and user mistake gives a precise DataError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from etbuilder.data import Table, read_split
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource
from tests.fixtures import write_conll, write_jsonl, write_table


def src(path: Path, fmt: str, **kw: Any) -> SplitSource:
    return SplitSource(name="train", path=str(path), format=fmt, **kw)


def read_error(source: SplitSource) -> DataError:
    with pytest.raises(DataError) as info:
        read_split(source)
    return info.value


# --- csv / tsv -------------------------------------------------------------------------------


def test_csv_header_quoting_and_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('text,label\n"hello, world",pos\n\n"two\nlines",neg\nplain,pos\n')
    t = read_split(src(f, "csv"))
    assert t.columns == ("text", "label")
    assert t.column("text") == ("hello, world", "two\nlines", "plain")
    assert t.lines == (2, 4, 6)  # blank line 3 skipped; the quoted field spans lines 4-5
    assert t.file == str(f)


def test_tsv_no_header_given_columns_crlf_and_bom(tmp_path: Path) -> None:
    f = write_table(
        tmp_path / "b.tsv",
        [["ham", 'say "hi"'], ["spam", "win"]],
        delimiter="\t",
        newline="\r\n",
        bom=True,
    )
    t = read_split(src(f, "tsv", header=False, columns=["label", "text"], quoting=False))
    assert t.column("label") == ("ham", "spam")  # BOM dropped, CR dropped
    assert t.column("text") == ('say "hi"', "win")


def test_no_header_without_columns_gets_numbered_names(tmp_path: Path) -> None:
    f = write_table(tmp_path / "c.csv", [["a", "1"], ["b", "2"]])
    t = read_split(src(f, "csv", header=False))
    assert t.columns == ("column1", "column2")
    assert t.lines == (1, 2)


def test_header_renamed_by_columns(tmp_path: Path) -> None:
    f = write_table(tmp_path / "r.csv", [["a", "1"]], header=["x", "y"])
    t = read_split(src(f, "csv", columns=["text", "label"]))
    assert t.columns == ("text", "label") and t.row(0) == {"text": "a", "label": "1"}


def test_max_rows_and_custom_delimiter(tmp_path: Path) -> None:
    rows = [[str(i), "x"] for i in range(10)]
    f = write_table(tmp_path / "d.csv", rows, header=["n", "s"], delimiter=";")
    t = read_split(src(f, "csv", delimiter=";", max_rows=3))
    assert t.column("n") == ("0", "1", "2")


def test_latin1_file_with_encoding_option(tmp_path: Path) -> None:
    f = write_table(tmp_path / "e.csv", [["café", "1"]], header=["t", "l"], encoding="latin-1")
    assert read_split(src(f, "csv", encoding="latin-1")).column("t") == ("café",)


def test_bad_encoding_names_the_line_and_the_option(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_bytes(b"t,l\nok,1\ncaf\xe9,2\n")
    err = read_error(src(f, "csv"))
    assert err.row == 3 and err.file == str(f)
    assert "encoding:" in (err.hint or "") and "cp1252" in (err.hint or "")


def test_wrong_delimiter_is_detected_and_the_right_one_suggested(tmp_path: Path) -> None:
    f = write_table(tmp_path / "w.tsv", [["a", "1"], ["b", "2"]], delimiter=",")
    err = read_error(src(f, "tsv", header=False, columns=["text", "label"]))
    assert "wrong delimiter" in err.message
    assert 'delimiter: ","' in (err.hint or "")


def test_ragged_row_gives_line_counts_and_quoting_hint(tmp_path: Path) -> None:
    f = tmp_path / "q.tsv"
    f.write_text('text\tlabel\nfine\t1\n"no" he said\t0\nmore\t1\n')
    err = read_error(src(f, "tsv"))
    assert err.row == 3
    assert "misplaced" in err.message
    assert "quoting: false" in (err.hint or "")
    t = read_split(src(f, "tsv", quoting=False))
    assert t.column("text") == ("fine", '"no" he said', "more")


def test_ragged_row_without_quotes(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("a,b\n1,2\n1,2,3\n")
    err = read_error(src(f, "csv"))
    assert (err.row, err.message) == (3, "3 fields where the header has 2")
    assert "quoting" not in (err.hint or "")


def test_bare_quote_swallowing_rows_in_tsv(tmp_path: Path) -> None:
    f = tmp_path / "s.tsv"
    f.write_text('ham\t"ok then\nspam\twin now\nham\tbye"\n')
    err = read_error(src(f, "tsv", header=False))
    assert err.row == 1 and "quoting: false" in (err.hint or "")
    assert read_split(src(f, "tsv", header=False, quoting=False)).num_rows == 3


def test_columns_count_mismatch(tmp_path: Path) -> None:
    f = write_table(tmp_path / "m.csv", [["a", "1", "x"]])
    err = read_error(src(f, "csv", header=False, columns=["text", "label"]))
    assert "names 2 columns but line 1 has 3 fields" in err.message


def test_duplicate_or_empty_header(tmp_path: Path) -> None:
    f = write_table(tmp_path / "h.csv", [["a", "1"]], header=["text", "text"])
    assert "twice" in read_error(src(f, "csv")).message
    g = write_table(tmp_path / "h2.csv", [["a", "1"]], header=["text", ""])
    assert "empty" in read_error(src(g, "csv")).message


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "empty.csv"
    f.write_bytes(content)
    assert "empty" in read_error(src(f, "csv")).message


def test_header_only(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("text,label\n")
    assert "no data rows" in read_error(src(f, "csv")).message


def test_missing_file_lists_neighbours(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("a\n1\n")
    err = read_error(src(tmp_path / "trian.csv", "csv"))
    assert err.message == "file not found" and "train.csv" in (err.hint or "")


def test_folder_and_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "folder" in read_error(src(tmp_path, "csv")).message
    f = write_table(tmp_path / "p.csv", [["a"]], header=["t"])
    f.chmod(0)
    if os.access(f, os.R_OK):  # root reads anything: make the read fail as it would for a user
        real = Path.read_bytes

        def denied(self: Path) -> bytes:
            if self == f:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", denied)
    err = read_error(src(f, "csv"))
    assert "permission denied" in err.message and "chmod" in (err.hint or "")


def test_unknown_encoding_name(tmp_path: Path) -> None:
    f = write_table(tmp_path / "u.csv", [["a"]], header=["t"])
    assert "unknown text encoding" in read_error(src(f, "csv", encoding="utf-9")).message


# --- jsonl -----------------------------------------------------------------------------------


def test_jsonl_reads_objects_and_skips_blank_lines(tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "a.jsonl", [{"text": "a", "label": 1}, "", {"text": "b", "tags": ["x"]}]
    )
    t = read_split(src(f, "jsonl"))
    assert t.columns == ("text", "label", "tags")
    assert t.column("label") == (1, None) and t.column("tags") == (None, ["x"])
    assert t.lines == (1, 3)


def test_jsonl_syntax_error_names_the_line(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "b.jsonl", [{"text": "a"}, '{"text": "b",}'])
    err = read_error(src(f, "jsonl"))
    assert err.row == 2 and "invalid JSON" in err.message


def test_jsonl_non_object_line(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "c.jsonl", [{"text": "a"}, '["a", 1]'])
    err = read_error(src(f, "jsonl"))
    assert err.row == 2 and "found list" in err.message


def test_json_array_file(tmp_path: Path) -> None:
    f = tmp_path / "d.json"
    f.write_text('[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]')
    t = read_split(src(f, "jsonl", max_rows=1))
    assert t.num_rows == 1 and t.row(0) == {"text": "a", "label": "x"}


# --- parquet ---------------------------------------------------------------------------------


def test_parquet_roundtrip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    f = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "score": [0.5, 1.0, 2.0]}), f)
    t = read_split(src(f, "parquet", max_rows=2))
    assert t.columns == ("text", "score") and t.column("score") == (0.5, 1.0)
    assert t.lines == (1, 2)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert "Parquet" in read_error(src(bad, "parquet")).message


# --- conll -----------------------------------------------------------------------------------


def test_conll_sentences_docstart_and_space_separator(tmp_path: Path) -> None:
    f = write_conll(
        tmp_path / "a.conll",
        [[("Paris", "B-location"), ("rocks", "O")], [("Hi", "O")]],
        docstart=True,
        separator=" ",
    )
    t = read_split(src(f, "conll"))
    assert t.columns == ("tokens", "tags")
    assert t.column("tokens") == (["Paris", "rocks"], ["Hi"])
    assert t.column("tags") == (["B-location", "O"], ["O"])
    assert t.lines == (3, 6)


def test_conll_whitespace_only_separator_lines_and_renamed_columns(tmp_path: Path) -> None:
    f = tmp_path / "b.conll"
    f.write_text("a\tO\nb\tB-x\n\t\nc\tO\n")  # a line holding only a tab ends a sentence
    t = read_split(src(f, "conll", columns=["words", "labels"], max_rows=1))
    assert t.columns == ("words", "labels") and t.column("words") == (["a", "b"],)


def test_conll_line_without_tag(tmp_path: Path) -> None:
    f = tmp_path / "c.conll"
    f.write_text("a\tO\nlonely\n")
    err = read_error(src(f, "conll"))
    assert err.row == 2 and "no tag" in err.message


# --- Table -----------------------------------------------------------------------------------


def test_table_is_immutable_and_take_keeps_lines() -> None:
    t = Table(["a", "b"], {"a": [1, 2, 3], "b": ["x", "y", "z"]}, [2, 3, 5], "f.csv")
    sub = t.take([2, 0])
    assert sub.column("a") == (3, 1) and sub.lines == (5, 2) and sub.file == "f.csv"
    with pytest.raises(TypeError):
        t.data["a"] = (0,)  # type: ignore[index]
    with pytest.raises(AttributeError):
        t.columns = ("z",)  # type: ignore[misc]
    with pytest.raises(ValueError, match="values for 3 rows"):
        Table(["a"], {"a": [1]}, [1, 2, 3])


def test_reader_table_agrees_with_plan_and_spec_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import MappingProxyType

    from etbuilder.data import readers

    readers._check_readers()
    partial = MappingProxyType({k: v for k, v in readers.READERS.items() if k != "conll"})
    monkeypatch.setattr(readers, "READERS", partial)
    with pytest.raises(RuntimeError, match="disagree"):
        readers._check_readers()


def test_very_long_field(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("text,label\n" + "x" * 300_000 + ",1\n")
    assert len(read_split(src(f, "csv")).column("text")[0]) == 300_000
