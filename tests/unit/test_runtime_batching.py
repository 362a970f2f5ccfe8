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
    assert len(first) == 32


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


def test_processes_share_every_example_once_in_equal_steps() -> None:
    n = lengths(1000)  # 63 batches of 16 (the last of 8): not a multiple of 3 processes x 2
    every = LengthGroupedBatches(n, 16, seed=2).global_batches(4)
    shards = [
        LengthGroupedBatches(n, 16, seed=2, rank=r, world=3).steps(4, accumulation=2)
        for r in range(3)
    ]
    assert len({len(s) for s in shards}) == 1, "every process runs the same steps"
    for steps in zip(*shards, strict=True):
        assert len({len(step.micro) for step in steps}) == 1, "and the same micro-batches"
    assert len(every) == 63
    seen = np.concatenate([b for s in shards for step in s for b in step.micro if b is not None])
    assert sorted(seen.tolist()) == list(range(1000)), "each example once per epoch"
    last = [s[-1] for s in shards]
    assert len(last[0].batches) == 63 % 6 == 3
    assert [sum(b is not None for b in step.micro) for step in last] == [1, 1, 1]
    assert last[0].weight == 3 / 3
    # gradient weights of one step sum to the world size: the mean over its batches after
    # DDP divides by the world
    full = shards[0][0]
    assert full.weight * len(full.batches) == 3


def test_one_process_weights_its_last_step_by_its_batches() -> None:
    steps = LengthGroupedBatches(lengths(100), 16, seed=0).steps(0, accumulation=4)
    assert [len(s.micro) for s in steps] == [4, 3]  # 7 batches: 4 + 3
    assert [s.weight for s in steps] == [1 / 4, 1 / 3]


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
