"""Length-grouped batches with dynamic padding, in an order that can be replayed exactly.

Each epoch: shuffle the example indices with a generator seeded by (seed, epoch), cut them into
chunks of `chunk_batches` batches, sort each chunk by length, cut it into batches, shuffle the
batches. Batches hold examples of similar length, so padding (and the compute it costs) stays
small, while the order stays random. The order is a pure function of (seed, epoch), so a resumed
run only needs the epoch and the position inside it (`SamplerState`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from etbuilder.runtime.encode import IGNORE, Encoded, Side

CHUNK_BATCHES = 50
"""Batches per sorting chunk: large enough to group lengths, small enough to stay random."""


@dataclass
class SamplerState:
    """Where the data order stands: the epoch and the next batch of this process."""

    epoch: int = 0
    position: int = 0
    seed: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class LengthGroupedBatches:
    """The batches of one process for any epoch (a shard of the global order under DDP)."""

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        *,
        rank: int = 0,
        world: int = 1,
        chunk_batches: int = CHUNK_BATCHES,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.chunk = max(1, chunk_batches) * batch_size

    def global_batches(self, epoch: int) -> list[np.ndarray]:
        """Every batch of `epoch`, all processes together, in training order."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        batches: list[np.ndarray] = []
        for start in range(0, len(order), self.chunk):
            chunk = order[start : start + self.chunk]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        shuffled = rng.permutation(len(batches))
        return [batches[i] for i in shuffled]

    def steps(self, epoch: int, accumulation: int = 1) -> list[Step]:
        """This process's share of every optimizer step of `epoch`.

        A step takes `accumulation x world` consecutive global batches and process r takes every
        world-th of them from the r-th, so all processes together see exactly the batches one
        process accumulating them would. The last step of an epoch may hold fewer batches than
        that: each process then runs as many micro-batches as the busiest one (stand-ins weighted
        0 fill up), and the loss weight `world / batches` keeps the step's gradient the mean over
        its real batches, as in one process. Every example counts once per epoch."""
        batches = self.global_batches(epoch)
        per_step = max(1, accumulation) * self.world
        steps = []
        for start in range(0, len(batches), per_step):
            chunk = batches[start : start + per_step]
            mine: list[np.ndarray | None] = list(chunk[self.rank :: self.world])
            mine += [None] * (-(-len(chunk) // self.world) - len(mine))
            steps.append(Step(mine, chunk, self.world / len(chunk)))
        return steps

    def batches(self, epoch: int) -> list[np.ndarray]:
        """This process's batches of `epoch` (one per step, no accumulation)."""
        return [b for step in self.steps(epoch) for b in step.micro if b is not None]


@dataclass
class Step:
    """One optimizer step as one process runs it."""

    micro: list[np.ndarray | None]
    """This process's micro-batches; None: a stand-in (the step's first batch, weight 0) so that
    every process runs the same number of forward and backward passes."""
    batches: list[np.ndarray]
    """Every process's batches of this step, in order."""
    weight: float
    """Loss weight of each real micro-batch: world size / batches in the step."""

    @property
    def rows(self) -> int:
        return sum(len(b) for b in self.batches)


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Inference order: longest first (padding minimal, memory peak known early)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _pad(side: Side, rows: np.ndarray, pad_id: int) -> dict[str, Any]:
    import torch

    starts, ends = side.offsets[rows], side.offsets[rows + 1]
    width = int((ends - starts).max()) if len(rows) else 0
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros((len(rows), width), dtype=np.int64) if side.type_ids is not None else None
    for r, (a, b) in enumerate(zip(starts, ends, strict=True)):
        n = int(b - a)
        ids[r, :n] = side.ids[a:b]
        mask[r, :n] = 1
        if types is not None and side.type_ids is not None:
            types[r, :n] = side.type_ids[a:b]
    out = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
    if types is not None:
        out["token_type_ids"] = torch.from_numpy(types)
    return out


def collate(encoded: Encoded, rows: np.ndarray, pad_id: int) -> dict[str, Any]:
    """Tensors for the examples `rows`, padded to the longest of them.

    Keys: `input_ids`, `attention_mask`, optional `token_type_ids`; `labels` when the split has
    targets; pairs encoded apart (embedding) add the second side under a `b_` prefix.
    """
    import torch

    batch = _pad(encoded.sides[0], rows, pad_id)
    if len(encoded.sides) > 1:
        batch |= {f"b_{k}": v for k, v in _pad(encoded.sides[1], rows, pad_id).items()}
    if encoded.targets is not None:
        batch["labels"] = torch.from_numpy(np.ascontiguousarray(encoded.targets[rows]))
    if encoded.token_targets is not None:
        side = encoded.sides[0]
        width = batch["input_ids"].shape[1]
        labels = np.full((len(rows), width), IGNORE, dtype=np.int64)
        for r, row in enumerate(rows):
            a, b = side.offsets[row], side.offsets[row + 1]
            labels[r, : b - a] = encoded.token_targets[a:b]
        batch["labels"] = torch.from_numpy(labels)
    return batch
