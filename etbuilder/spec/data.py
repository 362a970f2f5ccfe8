"""`data:` where the examples come from and how their files are read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from etbuilder.spec._base import SpecModel

FileFormat = Literal["auto", "csv", "tsv", "jsonl", "parquet", "conll"]

EXTENSION_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".conll": "conll",
    ".bio": "conll",
    ".annotated": "conll",
}
"""How `format: auto` maps a file extension to a reader."""


class DataFile(SpecModel):
    """One data file; read options left out here fall back to those under `data:`."""

    path: str = Field(min_length=1)
    """Path of the file, relative to the spec file's folder or absolute."""
    format: FileFormat | None = None
    """Reader for this file only; `auto` picks it from the extension."""
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    """Field separator for this file only (csv/tsv)."""
    header: bool | None = None
    """Whether this file's first row names the columns."""
    columns: list[str] | None = None
    """Column names for this file when it has no header row."""
    quoting: bool | None = None
    """Whether `"` quotes fields in this file."""
    encoding: str | None = None
    """Text encoding of this file."""


def _path_as_file(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


DataSource = Annotated[
    DataFile, BeforeValidator(_path_as_file, json_schema_input_type=str | DataFile)
]
"""A path, or a `{path: ..., <read options>}` mapping."""


class SplitSpec(SpecModel):
    """How to carve validation and test sets out of `train` when files are not given."""

    validation: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Fraction of the training file held out for validation (0 = none)."""
    test: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Fraction of the training file held out for the final test (0 = none)."""
    stratify: bool = True
    """Keep label proportions equal across splits (classification tasks)."""
    seed: int = 13
    """Random seed of the split; the same seed gives the same split."""

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitSpec:
        if self.validation + self.test >= 0.9:
            raise ValueError(
                f"validation + test = {self.validation + self.test:g} leaves too little to "
                "train on; keep the sum below 0.9"
            )
        return self


class DataSpec(SpecModel):
    """The dataset: files per split and how to read them."""

    train: DataSource
    """Training examples: a path, or a mapping with `path` and read options."""
    validation: DataSource | None = None
    """Validation examples used for early stopping and model selection."""
    test: DataSource | None = None
    """Held-out examples scored once at the end of the run."""
    split: SplitSpec | None = None
    """Carve validation/test sets out of `train` (used for the splits without a file)."""
    format: FileFormat = "auto"
    """Reader for every file: csv, tsv, jsonl, parquet or conll; `auto` uses the extension."""
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    """Field separator (csv/tsv); default `,` for csv and a tab for tsv."""
    header: bool = True
    """Whether the first row holds the column names (csv/tsv)."""
    columns: list[str] | None = None
    """Column names, in file order, for files without a header row (or to rename them)."""
    quoting: bool = True
    """Whether `"` quotes fields (csv/tsv); turn off for text with bare quotes."""
    encoding: str = "utf-8"
    """Text encoding; `utf-8-sig` also strips a byte-order mark."""
    max_train_rows: int | None = Field(default=None, ge=1)
    """Use only the first N rows of the training file (quick experiments)."""
