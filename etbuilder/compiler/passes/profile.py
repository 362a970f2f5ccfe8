"""Pass `profile_data`: what each split holds (rows, labels, duplicates, token lengths...)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from etbuilder.compiler.context import CompileContext, TokenLengths
from etbuilder.compiler.passes.task import sort_labels, sort_tags
from etbuilder.data import Examples
from etbuilder.plan import LengthStats, SplitProfile
from etbuilder.plan.tasks import TASK_RULES

SAMPLE_LIMIT = 20_000
"""At most this many examples per split are tokenized; larger splits use an evenly spaced
(deterministic) sample."""


def normalize(text: str) -> str:
    """Text as compared for overlap: lower-cased, runs of whitespace collapsed, stripped."""
    return " ".join(text.split()).lower()


def sample_indices(n: int, limit: int = SAMPLE_LIMIT) -> list[int]:
    """All of range(n), or `limit` evenly spaced indices of it (deterministic)."""
    if n <= limit:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def percentile(ordered: list[int], p: float) -> int:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def length_stats(lengths: list[int]) -> LengthStats:
    ordered = sorted(lengths)
    return LengthStats(
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1],
        mean=round(sum(ordered) / len(ordered), 2),
    )


def _keys(rows: Examples) -> list[Any]:
    if rows.words is not None:
        return [tuple(normalize(w) for w in words) for words in rows.words]
    if rows.pairs is not None:
        return [(normalize(a), normalize(b)) for a, b in rows.pairs]
    return [normalize(t) for t in rows.texts]


def _counts(kind: str, labels: tuple[Any, ...]) -> dict[str, int]:
    shape = TASK_RULES[kind].labels
    if shape not in ("classes", "multi", "tags") or not labels:
        return {}
    if shape in ("multi", "tags"):
        counter: Counter[str] = Counter(x for items in labels for x in items)
    else:
        counter = Counter(str(x) for x in labels)
    order = sort_tags(list(counter)) if shape == "tags" else sort_labels(list(counter))
    return {label: counter[label] for label in order}


def _target_stats(labels: tuple[Any, ...]) -> dict[str, float] | None:
    values = [float(x) for x in labels]
    if not values:
        return None
    return {
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "mean": round(statistics.fmean(values), 4),
        "std": round(statistics.pstdev(values), 4),
    }


def _empty(rows: Examples) -> int:
    if rows.words is not None:
        return sum(1 for w in rows.words if not w)
    if rows.pairs is not None:
        return sum(1 for a, b in rows.pairs if not a.strip() or not b.strip())
    return sum(1 for t in rows.texts if not t.strip())


def _measure(ctx: CompileContext, rows: Examples) -> TokenLengths:
    from etbuilder.zoo import token_lengths

    picked = sample_indices(rows.rows)
    inputs: list[Any] = (
        [rows.pairs[i] for i in picked]
        if rows.pairs is not None
        else [rows.texts[i] for i in picked]
    )
    lengths = token_lengths(ctx.need("tokenizer"), inputs) if inputs else []
    return TokenLengths(rows.name, tuple(lengths), rows.rows)


def profile_data(ctx: CompileContext) -> CompileContext:
    """Profile every split; token lengths use the backbone's tokenizer (sampled when large)."""
    kind = ctx.spec.task.type
    train = ctx.splits[0]
    train_keys = _keys(train)
    train_labels = set(_counts(kind, train.labels))
    profiles: list[SplitProfile] = []
    measured: list[TokenLengths] = []
    overlap = 0
    for rows in ctx.splits:
        keys = train_keys if rows is train else _keys(rows)
        full = [
            (k, _label_key(v)) for k, v in zip(keys, rows.labels or [None] * rows.rows, strict=True)
        ]
        duplicates = len(full) - len(set(full))
        counts = _counts(kind, rows.labels)
        lengths = _measure(ctx, rows)
        measured.append(lengths)
        unseen = [] if rows is train else [x for x in counts if x not in train_labels]
        shape = TASK_RULES[kind].labels
        numeric = shape == "number" or (shape == "optional-number" and bool(rows.labels))
        profiles.append(
            SplitProfile(
                name=rows.name,
                rows=rows.rows,
                empty_texts=_empty(rows),
                duplicates=duplicates,
                label_counts=counts,
                target_stats=_target_stats(rows.labels) if numeric else None,
                lengths=length_stats(list(lengths.lengths)) if lengths.lengths else None,
                unseen_labels=unseen,
            )
        )
        if rows.name == "test":
            seen = set(train_keys)
            overlap = sum(1 for k in keys if k in seen)
    ctx = ctx.replace(profiles=tuple(profiles), lengths=tuple(measured), train_test_overlap=overlap)
    for m in measured:
        if len(m.lengths) < m.population:
            ctx = ctx.decide(
                f"data.length_sample.{m.split}",
                len(m.lengths),
                f"token lengths of {m.split} measured on {len(m.lengths):,} evenly spaced of "
                f"{m.population:,} examples (at most {SAMPLE_LIMIT:,} are tokenized)",
            )
    return ctx


def _label_key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
