"""The examples the int8 model is measured on: the run's test split, or ones given explicitly.

The test split is re-read with the runtime's own loader (`etbuilder.runtime.rows`), which
replays the compiler's reading and split recipe, so the rows are those the run scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etbuilder.errors import EtbError
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES

MAX_EXAMPLES = 5000
"""Measure on at most this many test rows (packaging stays quick on large test sets)."""


@dataclass(frozen=True)
class EvalSet:
    """Inputs as the model takes them, and their gold targets when known.

    inputs: texts; `[a, b]` pairs for pair tasks (and for embeddings scored on pairs);
    word lists for NER (pretokenized).
    targets: class indices (classification/pair), label-name lists (multilabel), floats
    (regression, embedding pair scores), tag-name lists (NER); None when unlabelled.
    """

    inputs: list[Any]
    targets: list[Any] | None
    source: str
    """Where the examples came from, for the manifest and model card."""


def from_texts(inputs: list[Any], targets: list[Any] | None = None) -> EvalSet:
    """An explicit evaluation set (e.g. when the test split cannot be re-read)."""
    if targets is not None and len(targets) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
    return EvalSet(list(inputs), None if targets is None else list(targets), "given examples")


def load_test_set(plan: Plan) -> tuple[EvalSet | None, str]:
    """The run's test split, or None and the reason why not."""
    if not any(s.name == "test" for s in plan.data.sources):
        return None, "the run has no test split"
    try:
        from etbuilder.data import load_examples

        split = load_examples(plan, check_fingerprint=False).get("test")
    except (EtbError, OSError, ValueError) as exc:
        return None, f"the test split could not be re-read: {exc}"
    if split is None or len(split) == 0:
        return None, "the test split is empty"
    n = min(len(split), MAX_EXAMPLES)
    source = f"test split: {n} rows of {Path(split.file).name}"
    return _from_examples(plan, split, n, source), ""


def _from_examples(plan: Plan, split: Any, n: int, source: str) -> EvalSet:
    rule = TASK_RULES[plan.task.type]
    labels = list(split.labels[:n]) if split.labelled else None
    if rule.inputs == "tokens":
        return EvalSet([list(w) for w in split.words[:n]], _lists(labels), source)
    pairs = [list(p) for p in split.pairs[:n]] if split.pairs is not None else None
    two = len(plan.task.text_columns) == 2
    inputs: list[Any] = pairs if pairs is not None and two else list(split.texts[:n])
    if labels is None:
        return EvalSet(inputs, None, source)
    if rule.output == "label":
        index = {name: i for i, name in enumerate(plan.task.labels)}
        keep = [i for i, v in enumerate(labels) if str(v) in index]
        return EvalSet([inputs[i] for i in keep], [index[str(labels[i])] for i in keep], source)
    if rule.output == "labels":
        return EvalSet(inputs, _lists(labels), source)
    if rule.output == "vector" and pairs is None:
        return EvalSet(inputs, None, source)
    return EvalSet(inputs, [float(v) for v in labels], source)


def _lists(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else [[str(x) for x in v] for v in values]
