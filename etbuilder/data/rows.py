"""The examples of each split, read exactly as the task reads them.

One piece of code parses labels, pairs and NER word lists for the compiler (profile, checks),
the runtime (training, evaluation), `etb evaluate`/`etb predict` and the packager's quality gate,
so a carved split gives the same rows everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from etbuilder.data.columns import check_columns
from etbuilder.data.readers import read_split
from etbuilder.data.split import split_indices
from etbuilder.data.table import Table
from etbuilder.errors import DataError, RunError
from etbuilder.plan import Plan, SplitRecipe, SplitSource
from etbuilder.plan.tasks import TASK_RULES, label_column, needed_columns, text_columns
from etbuilder.spec.task import MultilabelTask, NerTask, Task

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Examples:
    """One split reduced to what the compiler and the runtime need.

    `texts` holds one string per example (a pair joined, or the words of a sentence, for
    reports); `labels` one label per example (a name, a tuple of names for multilabel/ner tags,
    a float for regression, nothing for unlabelled data).
    """

    name: str
    file: str
    texts: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] | None = None
    words: tuple[tuple[str, ...], ...] | None = None
    """NER: the pre-split words of each sentence."""
    labels: tuple[Any, ...] = ()
    lines: tuple[int, ...] = ()
    """1-based line (or row) number of each example in its file."""

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def rows(self) -> int:
        return len(self.labels) if self.labels else len(self.texts)

    @property
    def labelled(self) -> bool:
        return len(self.labels) == len(self.texts) and len(self.texts) > 0


def read_examples(
    task: Task, sources: Sequence[SplitSource], recipe: SplitRecipe | None
) -> tuple[tuple[Examples, ...], str]:
    """Read each file once, check its columns, carve the split, and reduce every split to the
    rows the task needs; also the data fingerprint (see `fingerprint`)."""
    needed = needed_columns(task)
    tables: dict[str, Table] = {}
    for source in sources:
        if source.carved_from_train:
            continue
        table = read_split(source)
        check_columns(table, needed, source.path)
        tables[source.name] = table
    train = tables["train"]
    if recipe is not None:
        column = label_column(task)
        labels = train.column(column) if recipe.stratify and column else None
        keep, val_idx, test_idx = split_indices(
            len(train), labels, recipe.validation, recipe.test, recipe.stratify, recipe.seed
        )
        if recipe.validation:
            tables["validation"] = train.take(val_idx)
        if recipe.test:
            tables["test"] = train.take(test_idx)
        tables["train"] = train.take(keep)
    splits = tuple(rows_of(name, tables[name], task) for name in SPLIT_NAMES if name in tables)
    if not splits[0].rows:
        raise DataError("no training rows left", file=train.file, hint="add training examples")
    return splits, fingerprint(sources, recipe)


def load_examples(plan: Plan, *, check_fingerprint: bool = True) -> dict[str, Examples]:
    """Every split of the plan (train, and validation/test when present), by name.

    Raises RunError when the data files changed since the plan was compiled.
    """
    splits, digest = read_examples(plan.spec.task, plan.data.sources, plan.data.split)
    if check_fingerprint and digest != plan.data.fingerprint:
        raise RunError(
            "the data files changed since this plan was compiled "
            f"(fingerprint {digest[:12]} != {plan.data.fingerprint[:12]}); "
            "run `etb run` on the spec again to compile a fresh plan"
        )
    return {rows.name: rows for rows in splits}


def require_split(examples: dict[str, Examples], name: str) -> Examples:
    """The split `name`; RunError when the plan has none."""
    if name not in examples:
        raise RunError(f"this run has no {name} split; add `data.{name}:` or `data.split:`")
    return examples[name]


def examples_from_table(task: Task, table: Table) -> Examples:
    """Examples of a user-given Table (evaluate/predict), read as the task reads data.

    Labels are optional: a file without the label (or tags) column gives `labels == ()`.
    """
    file = table.file
    label = label_column(task)
    has_label = label is not None and label in table.columns
    if isinstance(task, NerTask):
        if task.tokens not in table.columns:
            raise DataError(
                f"missing column {task.tokens!r}",
                file=file,
                hint=f"the model reads token lists from {task.tokens!r}; "
                f"this file has {list(table.columns)}",
            )
        if has_label:
            return rows_of("input", table, task)
        words = tuple(_tokens(table, task.tokens, file))
        texts = tuple(" ".join(w) for w in words)
        return Examples("input", file, texts, None, words, (), table.lines)
    columns = text_columns(task)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(map(repr, missing))}",
            file=file,
            hint=f"the model reads the columns {columns}; this file has {list(table.columns)}",
        )
    if has_label:
        return rows_of("input", table, task)
    texts, pairs = _texts(table, columns)
    return Examples("input", file, texts, pairs, None, (), table.lines)


def fingerprint(sources: Sequence[SplitSource], recipe: SplitRecipe | None) -> str:
    """sha256 over every file's bytes, its read options and the split recipe: keys caches."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.name):
        digest.update(source.model_dump_json().encode())
        if not source.carved_from_train:
            with open(source.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    digest.update((recipe.model_dump_json() if recipe is not None else "-").encode())
    return digest.hexdigest()


def text_of(value: Any) -> str:
    """A cell as text: None (a missing value) is the empty string."""
    return "" if value is None else str(value)


def rows_of(name: str, table: Table, task: Task) -> Examples:
    """The examples of one labelled table, as the task reads them."""
    file, lines = table.file, table.lines
    if isinstance(task, NerTask):
        words = tuple(_tokens(table, task.tokens, file))
        tags = tuple(_tokens(table, task.tags, file))
        for row, (w, t) in enumerate(zip(words, tags, strict=True)):
            if len(w) != len(t):
                raise DataError(
                    f"{len(w)} tokens but {len(t)} tags",
                    file=file,
                    row=lines[row],
                    column=task.tags,
                    hint="every token needs exactly one tag",
                )
        texts = tuple(" ".join(w) for w in words)
        return Examples(name, file, texts, None, words, tags, lines)
    texts, pairs = _texts(table, text_columns(task))
    labels: tuple[Any, ...] = ()
    if label_column(task) is not None:
        labels = _labels(table, task, file)
    return Examples(name, file, texts, pairs, None, labels, lines)


def _texts(
    table: Table, columns: list[str]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...] | None]:
    values = [tuple(text_of(v) for v in table.column(c)) for c in columns]
    pairs = tuple(zip(values[0], values[1], strict=True)) if len(values) == 2 else None
    texts = values[0] if pairs is None else tuple(f"{a} {b}" for a, b in pairs)
    return texts, pairs


def _tokens(table: Table, column: str, file: str) -> list[tuple[str, ...]]:
    out = []
    for value, line in zip(table.column(column), table.lines, strict=True):
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list | tuple):
            raise DataError(
                f"expected a list of tokens, found {type(value).__name__}",
                file=file,
                row=line,
                column=column,
                hint='write lists, e.g. {"tokens": ["New", "York"], "tags": ["B-loc", "I-loc"]}',
            )
        out.append(tuple(str(v) for v in value))
    return out


def _labels(table: Table, task: Task, file: str) -> tuple[Any, ...]:
    column = label_column(task)
    assert column is not None
    out: list[Any] = []
    numeric = TASK_RULES[task.type].labels in ("number", "optional-number")
    for value, line in zip(table.column(column), table.lines, strict=True):
        if isinstance(task, MultilabelTask):  # an empty cell is a row without labels
            items = value if isinstance(value, list) else text_of(value).split(task.separator)
            out.append(tuple(sorted({str(x).strip() for x in items if str(x).strip()})))
            continue
        if text_of(value).strip() == "":
            raise DataError(
                "the label is empty",
                file=file,
                row=line,
                column=column,
                hint="give every row a label, or remove the rows without one",
            )
        if numeric:
            out.append(_number(value, file, line, column, task.type))
        else:
            out.append(str(value))
    return tuple(out)


def _number(value: Any, file: str, line: int, column: str, kind: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"{value!r} is not a number",
            file=file,
            row=line,
            column=column,
            hint=f"a {kind} label must be numeric (e.g. 3.5)",
        ) from None
