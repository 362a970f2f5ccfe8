"""`split_indices`: the seeded train/validation/test split (algorithm `etb-split-v1`).

The compiler profiles with it and the runtime replays it, possibly in other processes, on other
machines and Python versions, so it must give the same indices everywhere. It therefore uses
only `random.Random(seed).random()`, whose sequence Python guarantees to keep across versions,
with its own Fisher-Yates shuffle; never `hash()`, never set iteration order.

Algorithm etb-split-v1:
1. Group row indices by label (one group of all rows when not stratified); groups are ordered
   by the label's canonical text.
2. Target sizes: round(fraction * n) rows for test and for validation. Each group gets the floor
   of its share; the rows left over go to the groups with the largest remainders (ties: group
   order). When possible, a group with a non-zero fraction gets at least one row in each held-out
   split while keeping at least one training row.
3. Each group is shuffled with the one generator, in group order; its first rows go to test, the
   next to validation, the rest to train. Each index list is returned sorted (file order).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Hashable, Sequence
from typing import Any

ALGORITHM = "etb-split-v1"
"""Name recorded in `SplitRecipe.algorithm`; change it whenever the output would change."""


def _label_key(label: Any) -> str:
    """A canonical text for any label (str, int, float, list of tags...)."""
    if isinstance(label, str):
        return "s:" + label
    try:
        return "j:" + json.dumps(label, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return "r:" + repr(label)


def _shuffle(items: list[int], rng: random.Random) -> None:
    """Fisher-Yates using only `rng.random()` (stable across Python versions)."""
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


def _apportion(total: int, sizes: Sequence[int], fraction: float) -> list[int]:
    """Split `total` rows over groups in proportion to `sizes` (largest remainder)."""
    n = sum(sizes)
    if n == 0 or total == 0:
        return [0] * len(sizes)
    quotas = [fraction * s for s in sizes]
    counts = [math.floor(q) for q in quotas]
    left = total - sum(counts)
    order = sorted(range(len(sizes)), key=lambda g: (-(quotas[g] - counts[g]), g))
    for g in order[: max(left, 0)]:
        counts[g] += 1
    return [min(c, s) for c, s in zip(counts, sizes, strict=True)]


def split_indices(
    n: int,
    labels: Sequence[Hashable | Any] | None,
    validation: float,
    test: float,
    stratify: bool,
    seed: int,
) -> tuple[list[int], list[int], list[int]]:
    """(train, validation, test) row indices of a table of `n` rows, seeded and deterministic.

    `labels` (one per row) stratify the split when `stratify` is true; each class then keeps
    its proportion in every split and, when it has enough rows, at least one row in each.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not (0.0 <= validation < 1.0 and 0.0 <= test < 1.0 and validation + test < 1.0):
        raise ValueError(f"bad fractions: validation={validation}, test={test}")
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} rows")

    if stratify and labels is not None:
        by_key: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_key.setdefault(_label_key(label), []).append(i)
        groups = [by_key[k] for k in sorted(by_key)]
    else:
        groups = [list(range(n))]
    sizes = [len(g) for g in groups]
    n_test = _apportion(round(test * n), sizes, test)
    n_val = _apportion(round(validation * n), sizes, validation)
    for g, size in enumerate(sizes):
        n_test[g], n_val[g] = _at_least_one(size, n_test[g], n_val[g], test, validation)

    rng = random.Random(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    test_idx: list[int] = []
    for g, group in enumerate(groups):
        order = list(group)
        _shuffle(order, rng)
        t, v = n_test[g], n_val[g]
        test_idx.extend(order[:t])
        val_idx.extend(order[t : t + v])
        train_idx.extend(order[t + v :])
    return sorted(train_idx), sorted(val_idx), sorted(test_idx)


def _at_least_one(size: int, t: int, v: int, test: float, validation: float) -> tuple[int, int]:
    """Give each held-out split with a non-zero fraction one row, keeping one for training."""
    if test > 0 and t == 0 and size - t - v >= 2:
        t = 1
    if validation > 0 and v == 0 and size - t - v >= 2:
        v = 1
    # Never leave the group without a training row.
    while size > 0 and t + v >= size:
        if v >= t and v > 0:
            v -= 1
        elif t > 0:
            t -= 1
    return t, v
