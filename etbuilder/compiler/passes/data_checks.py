"""Pass `check_data`: refuse at plan time what the run would refuse or fail on, after hours.

- a classifier whose training data shows a single class (nothing to learn; evaluating and
  packaging it fail at the end of the run);
- a class with fewer than 2 examples when validation/test are carved out of train by a
  stratified split (it cannot be in both training and held-out data);
- a validation or test label the training data never shows, when the labels are inferred from
  the training data (the model has no output for it). Listing it under `task.labels` is how a
  spec says to keep it: the model then has an output for it, and the plan warns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from etbuilder.compiler.context import CompileContext
from etbuilder.data import Examples
from etbuilder.errors import DataError
from etbuilder.plan.tasks import TASK_RULES, label_column

CLOSED_LABELS = ("classes", "multi", "tags")
"""Label kinds of the task table with a closed set of labels (one model output per label)."""


def check_data(ctx: CompileContext) -> CompileContext:
    """Raise DataError, naming the file, line and fix, for data the run cannot train on."""
    labels = TASK_RULES[ctx.spec.task.type].labels
    if labels not in CLOSED_LABELS or not ctx.splits:
        return ctx
    train = ctx.splits[0]
    if labels == "classes":  # one class per example: a single class leaves nothing to learn
        _single_class(ctx, train)
    if ctx.split is not None and ctx.split.stratify:
        _rare_classes(ctx)
    if getattr(ctx.spec.task, "labels", None) is None:
        _unseen(ctx, train)
    return ctx


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _single_class(ctx: CompileContext, train: Examples) -> None:
    classes = Counter(str(v) for v in train.labels)
    if len(classes) >= 2:
        return
    only = next(iter(classes), None)
    found = f"only the class {only!r} ({classes[only]:,} rows)" if only else "no labels"
    raise DataError(
        f"the training data has {found}: a classifier needs at least two classes to learn",
        file=train.file,
        column=label_column(ctx.spec.task),
        hint="check the label column and the file (is it the whole dataset?)",
    )


def _rare_classes(ctx: CompileContext) -> None:
    carved = {s.name for s in ctx.sources if s.carved_from_train} | {"train"}
    totals: Counter[str] = Counter()
    for rows in ctx.splits:
        if rows.name in carved:
            totals.update(name for value in rows.labels for name in _names(value))
    rare = sorted(name for name, count in totals.items() if count < 2)
    if not rare:
        return
    train = ctx.splits[0]
    shown = ", ".join(repr(r) for r in rare[:10]) + (" ..." if len(rare) > 10 else "")
    line = next(
        (
            ln
            for value, ln in zip(train.labels, train.lines, strict=False)
            if rare[0] in _names(value)
        ),
        None,
    )
    raise DataError(
        f"{len(rare)} class(es) have a single example, too few for a stratified split into "
        f"train and held-out data: {shown}",
        file=train.file,
        row=line,
        column=label_column(ctx.spec.task),
        hint="add examples of these classes, remove their rows, or set "
        "`data.split.stratify: false`",
    )


def _unseen(ctx: CompileContext, train: Examples) -> None:
    known = {name for value in train.labels for name in _names(value)}
    for rows in ctx.splits[1:]:
        for value, line in zip(rows.labels, rows.lines, strict=False):
            unseen = [name for name in _names(value) if name not in known]
            if unseen:
                raise DataError(
                    f"{rows.name} label {unseen[0]!r} never occurs in the training data "
                    f"({train.file}): the model would have no output for it",
                    file=rows.file,
                    row=line,
                    column=label_column(ctx.spec.task),
                    hint="add training examples with this label; or list every label under "
                    "`task.labels` to keep it (the model gets an output it never learns); or "
                    f"remove these rows from the {rows.name} data",
                )
