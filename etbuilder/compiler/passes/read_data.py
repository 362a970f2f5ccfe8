"""Pass `read_data`: read every split, check the task's columns, carve the split, fingerprint."""

from __future__ import annotations

import hashlib
from typing import Any

from etbuilder.compiler.context import CompileContext, SplitRows
from etbuilder.compiler.plan import SplitSource
from etbuilder.compiler.tasks import TASK_RULES, label_column, needed_columns, text_columns
from etbuilder.data import Table, check_columns, read_split, split_indices
from etbuilder.errors import DataError
from etbuilder.spec.task import MultilabelTask, NerTask, Task


def read_data(ctx: CompileContext) -> CompileContext:
    """Read each file once, check its columns, and reduce it to the rows the task needs."""
    task = ctx.spec.task
    needed = needed_columns(task)
    tables: dict[str, Table] = {}
    for source in ctx.sources:
        if source.carved_from_train:
            continue
        table = read_split(source)
        check_columns(table, needed, source.path)
        tables[source.name] = table
    train = tables["train"]
    recipe = ctx.split
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
    splits = tuple(
        _rows(name, tables[name], task)
        for name in ("train", "validation", "test")
        if name in tables
    )
    if not splits[0].rows:
        raise DataError("no training rows left", file=train.file, hint="add training examples")
    return ctx.replace(splits=splits, fingerprint=fingerprint(ctx.sources, recipe))


def fingerprint(sources: tuple[SplitSource, ...], recipe: Any) -> str:
    """sha256 over every file's bytes, its read options and the split recipe."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.name):
        digest.update(source.model_dump_json().encode())
        if not source.carved_from_train:
            with open(source.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    digest.update((recipe.model_dump_json() if recipe is not None else "-").encode())
    return digest.hexdigest()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _rows(name: str, table: Table, task: Task) -> SplitRows:
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
        return SplitRows(name, file, texts, None, words, tags, lines)
    values = [tuple(_text(v) for v in table.column(c)) for c in text_columns(task)]
    pairs = tuple(zip(values[0], values[1], strict=True)) if len(values) == 2 else None
    texts = values[0] if pairs is None else tuple(f"{a} {b}" for a, b in pairs)
    labels: tuple[Any, ...] = ()
    if label_column(task) is not None:
        labels = _labels(table, task, file)
    return SplitRows(name, file, texts, pairs, None, labels, lines)


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
            items = value if isinstance(value, list) else _text(value).split(task.separator)
            out.append(tuple(sorted({str(x).strip() for x in items if str(x).strip()})))
            continue
        if _text(value).strip() == "":
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
