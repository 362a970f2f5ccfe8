"""Length-grouped batches: a seeded, replayable order that covers every example once and keeps
padding small; dynamic padding in `collate`."""

from __future__ import annotations

import numpy as np

from etbuilder.runtime.batching import LengthGroupedBatches, collate, sorted_batches
from etbuilder.runtime.encode import IGNORE, Encoded, Side


def lengths(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(3, 120, size=n)


def test_every_example_once_per_epoch_and_the_order_replays() -> None:
    sampler = LengthGroupedBatches(lengths(), 32, seed=5)
    first = sampler.batches(0)
    assert sorted(np.concatenate(first).tolist()) == list(range(1000))
    again = LengthGroupedBatches(lengths(), 32, seed=5).batches(0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other_epoch = sampler.batches(1)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other_epoch, strict=True))
    assert len(sampler) == len(first) == 32


def test_grouping_cuts_padding_against_random_batches() -> None:
    n = lengths()
    grouped = LengthGroupedBatches(n, 32, seed=1).batches(0)
    order = np.random.default_rng(1).permutation(len(n))
    plain = [order[i : i + 32] for i in range(0, len(n), 32)]

    def padded(batches: list[np.ndarray]) -> int:
        return sum(len(b) * int(n[b].max()) for b in batches)

    assert padded(grouped) < 0.6 * padded(plain)
    # still random: the first batch is not simply the longest examples
    assert set(grouped[0].tolist()) != set(np.argsort(-n)[:32].tolist())


def test_processes_get_disjoint_equal_shards() -> None:
    n = lengths(1000)
    shards = [LengthGroupedBatches(n, 16, seed=2, rank=r, world=3).batches(4) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    seen = np.concatenate([np.concatenate(s) for s in shards])
    assert len(seen) == len(set(seen.tolist()))


def test_inference_order_is_longest_first() -> None:
    n = np.array([5, 9, 2, 7])
    batches = sorted_batches(n, 2)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 2]]


def test_collate_pads_to_the_longest_row_only() -> None:
    side = Side(np.array([101, 7, 102, 101, 8, 9, 10, 102], dtype=np.int32), np.array([0, 3, 8]))
    enc = Encoded([side], targets=np.array([1, 0]))
    batch = collate(enc, np.array([1, 0]), pad_id=0)
    assert batch["input_ids"].tolist() == [[101, 8, 9, 10, 102], [101, 7, 102, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [0, 1]
    small = collate(enc, np.array([0]), pad_id=0)
    assert small["input_ids"].shape == (1, 3)


def test_collate_token_targets_are_padded_with_ignore() -> None:
    side = Side(np.array([101, 7, 102, 101, 8, 9, 102], dtype=np.int32), np.array([0, 3, 7]))
    tokens = np.array([IGNORE, 2, IGNORE, IGNORE, 1, IGNORE, IGNORE])
    enc = Encoded([side], token_targets=tokens, word_index=np.zeros(7, dtype=np.int32))
    batch = collate(enc, np.array([0, 1]), pad_id=0)
    assert batch["labels"].tolist() == [
        [IGNORE, 2, IGNORE, IGNORE],
        [IGNORE, 1, IGNORE, IGNORE],
    ]
