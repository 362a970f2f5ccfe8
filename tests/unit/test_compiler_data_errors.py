"""Data problems found while compiling: a DataError naming the file, row and column (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_compiler_fixtures import (
    CLASSIFICATION_SPEC,
    classification_csv,
    compile_project,
    isolated_cache,  # noqa: F401
    write_project,
)

from etbuilder.errors import DataError

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _error(
    tmp_path: Path, files: dict[str, str | bytes], spec: str = CLASSIFICATION_SPEC
) -> DataError:
    with pytest.raises(DataError) as caught:
        compile_project(tmp_path, spec, files)
    return caught.value


def test_missing_column_names_file_present_columns_and_suggestion(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC.replace("label: label", "label: lable")
    error = _error(tmp_path, {"train.csv": classification_csv()}, spec)
    assert error.file is not None and error.file.endswith("train.csv")
    assert error.column == "lable"
    text = error.render()
    assert "text, label" in text and "did you mean 'label'" in text


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    write_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv()})
    (tmp_path / "train.csv").chmod(0)
    error = _error(tmp_path, {})
    assert error.file is not None and error.file.endswith("train.csv")
    assert "permission" in error.render()


def test_missing_file(tmp_path: Path) -> None:
    error = _error(tmp_path, {"other.csv": classification_csv()})
    assert error.file is not None and error.file.endswith("train.csv")
    assert "other.csv" in error.render()  # the hint lists what the folder holds


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "train.csv").mkdir()
    error = _error(tmp_path, {})
    assert "folder" in error.render()


def test_bad_encoding_names_the_row(tmp_path: Path) -> None:
    data = classification_csv(20).encode() + "café au lait,pos\n".encode("latin-1")
    error = _error(tmp_path, {"train.csv": data})
    assert error.row == 22 and "encoding" in error.render()


def test_wrong_delimiter(tmp_path: Path) -> None:
    text = classification_csv(50).replace(",", ";")
    error = _error(tmp_path, {"train.csv": text})
    assert error.file is not None and error.file.endswith("train.csv")
    assert "delimiter" in error.render() and '";"' in error.render()


def test_ragged_rows_name_the_line(tmp_path: Path) -> None:
    text = classification_csv(30) + "one,two,three\n"
    error = _error(tmp_path, {"train.csv": text})
    assert error.row == 32
    assert error.file is not None and error.file.endswith("train.csv")


def test_regression_label_not_a_number(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC.replace("classification", "regression")
    error = _error(tmp_path, {"train.csv": "text,label\na,1.5\nb,high\n"}, spec)
    assert (error.row, error.column) == (3, "label")
    assert "'high' is not a number" in error.render()


def test_empty_label_names_row_and_column(tmp_path: Path) -> None:
    error = _error(tmp_path, {"train.csv": classification_csv(20) + "a lonely text,\n"})
    assert (error.row, error.column) == (22, "label")


def test_label_outside_spec_labels(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC + "  labels: [neg, pos]\n"
    spec = spec.replace("  label: label\n  labels", "  label: label\n  labels")
    files: dict[str, str | bytes] = {"train.csv": classification_csv(20) + "odd one,maybe\n"}
    error = _error(tmp_path, files, spec)
    assert (error.row, error.column) == (22, "label") and "maybe" in error.render()


def test_etb_plan_missing_column_exits_2(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC.replace("text: text", "text: review")
    path = write_project(tmp_path, spec, {"train.csv": classification_csv()})
    done = subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.main", "plan", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "train.csv" in done.stderr and "'review'" in done.stderr
    assert "columns present: text, label" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_corrupt_parquet_is_unreadable(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC.replace("train.csv", "train.parquet")
    error = _error(tmp_path, {"train.parquet": b"PAR1 this is not parquet at all"}, spec)
    assert error.file is not None and error.file.endswith("train.parquet")
