"""split_indices: a partition, stratified, seeded, and identical in any process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etbuilder.data import split_indices


def test_golden_output_never_changes() -> None:
    # etb-split-v1: if this changes, bump ALGORITHM: saved plans replay splits by name.
    assert split_indices(10, None, 0.2, 0.2, False, 13) == (
        [1, 2, 5, 6, 7, 8],
        [0, 3],
        [4, 9],
    )
    labels = ["a"] * 6 + ["b"] * 4
    assert split_indices(10, labels, 0.2, 0.2, True, 7) == (
        [0, 1, 2, 4, 6, 7],
        [5, 9],
        [3, 8],
    )


@given(
    n=st.integers(0, 300),
    classes=st.integers(1, 6),
    validation=st.sampled_from([0.0, 0.1, 0.25]),
    test=st.sampled_from([0.0, 0.1, 0.3]),
    stratify=st.booleans(),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=60, deadline=None)
def test_partition_sizes_and_determinism(
    n: int, classes: int, validation: float, test: float, stratify: bool, seed: int
) -> None:
    labels = [f"c{(i * 7) % classes}" for i in range(n)]
    train, val, tst = split_indices(n, labels, validation, test, stratify, seed)
    assert sorted(train + val + tst) == list(range(n))
    assert train == sorted(train) and val == sorted(val) and tst == sorted(tst)
    assert split_indices(n, labels, validation, test, stratify, seed) == (train, val, tst)
    if not stratify and n >= 3:
        assert len(tst) == max(round(test * n), 1 if test else 0)


def test_stratified_keeps_proportions_and_every_class() -> None:
    labels = ["ham"] * 4827 + ["spam"] * 747
    train, val, test = split_indices(len(labels), labels, 0.1, 0.1, True, 13)
    for part, size in ((val, 557), (test, 557)):
        counts = Counter(labels[i] for i in part)
        assert sum(counts.values()) == size
        assert abs(counts["spam"] / size - 747 / 5574) < 0.005
    rare = ["common"] * 50 + ["rare"] * 3
    train, val, test = split_indices(len(rare), rare, 0.1, 0.1, True, 1)
    for part in (train, val, test):
        assert "rare" in {rare[i] for i in part}


def test_class_too_small_stays_in_train() -> None:
    labels = ["a"] * 20 + ["solo"]
    train, _, _ = split_indices(len(labels), labels, 0.2, 0.2, True, 3)
    assert 20 in train


def test_labels_can_be_lists_or_numbers() -> None:
    labels: list[object] = [["x", "y"], ["x"], 1.5, 2, None] * 4
    train, val, test = split_indices(len(labels), labels, 0.25, 0.25, True, 0)
    assert sorted(train + val + test) == list(range(20))


def test_seed_changes_the_split() -> None:
    assert split_indices(100, None, 0.1, 0.1, False, 1) != split_indices(
        100, None, 0.1, 0.1, False, 2
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="labels for"):
        split_indices(3, ["a"], 0.1, 0.1, True, 0)
    with pytest.raises(ValueError, match="fractions"):
        split_indices(3, None, 0.6, 0.5, False, 0)


def test_same_split_in_another_process_with_another_hash_seed() -> None:
    code = (
        "import json; from etbuilder.data import split_indices; "
        "labels=[str(i % 5) for i in range(500)]; "
        "print(json.dumps(split_indices(500, labels, 0.15, 0.1, True, 42)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    labels = [str(i % 5) for i in range(500)]
    here = split_indices(500, labels, 0.15, 0.1, True, 42)
    assert tuple(json.loads(out)) == tuple(list(x) for x in here)
