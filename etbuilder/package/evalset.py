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
    total: int | None = None
    """Rows of the whole split when these are a sample of it (None: not a sample)."""


def from_texts(inputs: list[Any], targets: list[Any] | None = None) -> EvalSet:
    """An explicit evaluation set (e.g. when the test split cannot be re-read)."""
    if targets is not None and len(targets) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
    return EvalSet(list(inputs), None if targets is None else list(targets), "given examples")


def load_test_set(plan: Plan) -> tuple[EvalSet | None, str]:
    """The run's test split, or None and the reason why not."""
    found, notes = load_splits(plan, ("test",), MAX_EXAMPLES)
    return (found[0] if found else None), "; ".join(notes)


def load_splits(
    plan: Plan, names: tuple[str, ...], max_rows: int
) -> tuple[list[EvalSet], list[str]]:
    """The named splits the run has (at most `max_rows` each: a sample stratified by label and
    evenly spread within each label), and notes on those it lacks."""
    present = [n for n in names if any(s.name == n for s in plan.data.sources)]
    notes = [f"the run has no {n} split" for n in names if n not in present]
    if not present:
        return [], notes
    try:
        from etbuilder.data import load_examples

        splits = load_examples(plan, check_fingerprint=False)
    except (EtbError, OSError, ValueError) as exc:
        return [], [*notes, f"the {'/'.join(present)} split could not be re-read: {exc}"]
    found: list[EvalSet] = []
    for name in present:
        split = splits.get(name)
        if split is None or len(split) == 0:
            notes.append(f"the {name} split is empty")
            continue
        total = len(split)
        strata = _strata(plan, split)
        rows = _sample(strata, total, max_rows)
        source = f"{name} split: {len(rows)} rows of {Path(split.file).name}"
        if len(rows) < total:
            how = "stratified by label" if strata else "evenly spread"
            source += f" (a sample of {total}, {how})"
        found.append(_from_examples(plan, split, rows, source, total))
    return found, notes


def _spread(total: int, most: int) -> list[int]:
    """`most` row indices spread evenly over `total` (all of them when there are fewer)."""
    if total <= most:
        return list(range(total))
    return [i * total // most for i in range(most)]


def _strata(plan: Plan, split: Any) -> list[list[int]]:
    """Row indices grouped by gold label for single-label tasks ([] otherwise)."""
    if not split.labelled or TASK_RULES[plan.task.type].output != "label":
        return []
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(split.labels):
        groups.setdefault(str(label), []).append(i)
    return list(groups.values())


def _sample(strata: list[list[int]], total: int, most: int) -> list[int]:
    """At most `most` row indices: every row when there are no more, else each label's rows
    in proportion (at least one per label), evenly spread within the label."""
    if total <= most:
        return list(range(total))
    if not strata:
        return _spread(total, most)
    picked: list[int] = []
    for rows in strata:
        share = max(1, round(most * len(rows) / total))
        picked.extend(rows[i] for i in _spread(len(rows), share))
    return sorted(picked)


def _from_examples(plan: Plan, split: Any, rows: list[int], source: str, total: int) -> EvalSet:
    rule = TASK_RULES[plan.task.type]

    def pick(values: Any) -> list[Any]:
        return [values[i] for i in rows]

    sampled = total if len(rows) < total else None

    labels = pick(split.labels) if split.labelled else None
    if rule.inputs == "tokens":
        return EvalSet([list(w) for w in pick(split.words)], _lists(labels), source, sampled)
    pairs = [list(p) for p in pick(split.pairs)] if split.pairs is not None else None
    two = len(plan.task.text_columns) == 2
    inputs: list[Any] = pairs if pairs is not None and two else pick(split.texts)
    if labels is None:
        return EvalSet(inputs, None, source, sampled)
    if rule.output == "label":
        index = {name: i for i, name in enumerate(plan.task.labels)}
        keep = [i for i, v in enumerate(labels) if str(v) in index]
        return EvalSet(
            [inputs[i] for i in keep], [index[str(labels[i])] for i in keep], source, sampled
        )
    if rule.output == "labels":
        return EvalSet(inputs, _lists(labels), source, sampled)
    if rule.output == "vector" and pairs is None:
        return EvalSet(inputs, None, source, sampled)
    return EvalSet(inputs, [float(v) for v in labels], source, sampled)


def _lists(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else [[str(x) for x in v] for v in values]
