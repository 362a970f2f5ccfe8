"""The examples of each split, read exactly as the compiler read them when it built the Plan.

The runtime replays the compiler's `read_data` pass on the plan's sources and split recipe, so
labels, pairs and NER word lists are parsed by one piece of code and a carved split gives the same
rows here as in the plan's profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etbuilder.compiler.context import CompileContext, SplitRows
from etbuilder.compiler.plan import Plan
from etbuilder.errors import DataError, RunError


@dataclass(frozen=True)
class Examples:
    """One split reduced to what the runtime needs."""

    name: str
    file: str
    texts: tuple[str, ...]
    """One text per example (the joined pair or words, for reports)."""
    pairs: tuple[tuple[str, str], ...] | None
    words: tuple[tuple[str, ...], ...] | None
    labels: tuple[Any, ...]
    """Label names (classification), tuples of names (multilabel, ner tags), floats, or ()."""
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labelled(self) -> bool:
        return len(self.labels) == len(self.texts) and len(self.texts) > 0


def _examples(rows: SplitRows) -> Examples:
    return Examples(
        name=rows.name,
        file=rows.file,
        texts=rows.texts,
        pairs=rows.pairs,
        words=rows.words,
        labels=rows.labels,
        lines=rows.lines,
    )


def load_examples(plan: Plan, *, check_fingerprint: bool = True) -> dict[str, Examples]:
    """Every split of the plan (train, and validation/test when present), by name.

    Raises RunError when the data files changed since the plan was compiled.
    """
    from etbuilder.compiler.passes.read_data import read_data

    ctx = CompileContext(
        spec=plan.spec,
        hardware=plan.hardware,
        sources=tuple(plan.data.sources),
        split=plan.data.split,
    )
    ctx = read_data(ctx)
    if check_fingerprint and ctx.fingerprint != plan.data.fingerprint:
        raise RunError(
            "the data files changed since this plan was compiled "
            f"(fingerprint {ctx.fingerprint[:12]} != {plan.data.fingerprint[:12]}); "
            "run `etb run` on the spec again to compile a fresh plan"
        )
    return {rows.name: _examples(rows) for rows in ctx.splits}


def examples_from_table(plan: Plan, table: Any) -> Examples:
    """Examples of a user-given Table (evaluate/predict), read as the plan's task reads data.

    Labels are optional: a file without the label (or tags) column gives `labels == ()`.
    """
    from etbuilder.compiler.passes import read_data as rd
    from etbuilder.spec.task import NerTask

    task = plan.spec.task
    file = table.file
    label = plan.task.label_column
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
            return _examples(rd._rows("input", table, task))
        words = tuple(rd._tokens(table, task.tokens, file))
        texts = tuple(" ".join(w) for w in words)
        return Examples("input", file, texts, None, words, (), table.lines)
    missing = [c for c in plan.task.text_columns if c not in table.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(map(repr, missing))}",
            file=file,
            hint=f"the model reads the columns {plan.task.text_columns}; "
            f"this file has {list(table.columns)}",
        )
    if has_label:
        return _examples(rd._rows("input", table, task))
    values = [tuple(rd._text(v) for v in table.column(c)) for c in plan.task.text_columns]
    pairs = tuple(zip(values[0], values[1], strict=True)) if len(values) == 2 else None
    texts = values[0] if pairs is None else tuple(f"{a} {b}" for a, b in pairs)
    return Examples("input", file, texts, pairs, None, (), table.lines)


def require_split(examples: dict[str, Examples], name: str) -> Examples:
    """The split `name`; RunError when the plan has none."""
    if name not in examples:
        raise RunError(f"this run has no {name} split; add `data.{name}:` or `data.split:`")
    return examples[name]
