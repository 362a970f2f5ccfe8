"""resolve_source merges read options and picks the format; check_columns explains misses."""

from __future__ import annotations

from pathlib import Path

import pytest

from etbuilder.data import Table, check_columns, read_split, resolve_source
from etbuilder.errors import DataError
from etbuilder.spec.data import DataSpec
from tests.fixtures import write_table


def spec(**data: object) -> DataSpec:
    return DataSpec.model_validate(data)


def test_file_options_override_data_level_ones() -> None:
    s = spec(
        train={"path": "train.txt", "header": True, "quoting": True},
        validation="dev.csv",
        header=False,
        quoting=False,
        columns=["text", "label"],
        encoding="utf-8-sig",
        max_train_rows=100,
    )
    train = resolve_source(s, "train")
    dev = resolve_source(s, "validation")
    assert train is not None and dev is not None
    assert (train.format, train.header, train.quoting, train.max_rows) == ("tsv", True, True, 100)
    assert train.columns == ["text", "label"] and train.encoding == "utf-8-sig"
    assert (dev.format, dev.header, dev.quoting, dev.max_rows) == ("csv", False, False, None)
    assert train.delimiter is None  # the reader's default: tab for tsv, comma for csv


def test_format_auto_from_extension_and_explicit_format() -> None:
    formats = {
        "a.jsonl": "jsonl", "a.ndjson": "jsonl", "a.parquet": "parquet", "a.conll": "conll",
        "a.TSV": "tsv", "emerging.test.annotated": "conll",
    }  # fmt: skip
    for path, fmt in formats.items():
        source = resolve_source(spec(train=path), "train")
        assert source is not None and source.format == fmt
    source = resolve_source(spec(train={"path": "x.data", "format": "csv"}), "train")
    assert source is not None and source.format == "csv"


def test_unknown_extension_suggests_a_format_from_the_content(tmp_path: Path) -> None:
    f = write_table(
        tmp_path / "SMSSpamCollection", [["ham", "hi"], ["spam", "win"]], delimiter="\t"
    )
    with pytest.raises(DataError) as info:
        resolve_source(spec(train=str(f)), "train")
    assert "format: tsv" in (info.value.hint or "")


def test_carved_splits_and_absent_splits() -> None:
    s = spec(train="t.csv", split={"validation": 0.1, "test": 0.0}, max_train_rows=50)
    val = resolve_source(s, "validation")
    assert val is not None and val.carved_from_train and val.path == "t.csv"
    assert val.max_rows == 50  # carved from the same (truncated) training rows
    assert resolve_source(s, "test") is None  # test fraction 0
    assert resolve_source(spec(train="t.csv"), "validation") is None  # no split, no file
    own_file = resolve_source(spec(train="t.csv", test="x.csv", split={}), "test")
    assert own_file is not None and own_file.carved_from_train is False


def test_relative_paths_join_base_dir(tmp_path: Path) -> None:
    source = resolve_source(spec(train="data/t.csv"), "train", base_dir=tmp_path)
    assert source is not None and source.path == str(tmp_path / "data" / "t.csv")
    absolute = resolve_source(spec(train="/abs/t.csv"), "train", base_dir=tmp_path)
    assert absolute is not None and absolute.path == "/abs/t.csv"


def table(*names: str) -> Table:
    return Table(names, {n: ["x"] for n in names}, [2], "data/train.csv")


def test_check_columns_passes_and_names_the_closest_match() -> None:
    check_columns(table("text", "label"), {"task.text": "text", "task.label": "label"})
    with pytest.raises(DataError) as info:
        check_columns(table("review", "sentiment"), {"task.text": "reviews"}, "spec-train.csv")
    err = info.value
    assert (err.file, err.column) == ("spec-train.csv", "reviews")
    assert "review, sentiment" in err.message and "task.text" in err.message
    assert "did you mean 'review'?" in (err.hint or "")


def test_check_columns_case_and_delimiter_and_headerless_hints() -> None:
    with pytest.raises(DataError, match="case-sensitive"):
        check_columns(table("Text", "Label"), {"task.text": "text"})
    with pytest.raises(DataError) as info:
        check_columns(table("text;label"), {"task.text": "text"})
    assert 'delimiter: ";"' in (info.value.hint or "")
    with pytest.raises(DataError) as info:
        check_columns(table("column1", "column2"), {"task.text": "sentence"})
    assert "columns: [...]" in (info.value.hint or "")


def test_header_read_with_wrong_delimiter_is_caught_by_check_columns(tmp_path: Path) -> None:
    f = write_table(tmp_path / "t.tsv", [["hi", "1"]], header=["text", "label"], delimiter=",")
    source = resolve_source(spec(train=str(f)), "train")
    assert source is not None
    t = read_split(source)
    with pytest.raises(DataError) as info:
        check_columns(t, {"task.text": "text", "task.label": "label"})
    assert 'delimiter: ","' in (info.value.hint or "")
