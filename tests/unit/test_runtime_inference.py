"""`run_model`: outputs in example order and the loss from one forward pass per batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from etbuilder.plan import TaskPlan
from etbuilder.runtime.encode import Encoded, Side
from etbuilder.runtime.inference import run_model


class Counting(nn.Module):
    """A bag-of-ids classifier that counts its forward calls."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(50, 3)
        self.calls = 0

    def forward(self, input_ids: torch.Tensor, **_: Any) -> Any:
        self.calls += 1
        return type("Out", (), {"logits": self.embed(input_ids)})()


def test_labelled_evaluation_runs_each_batch_once() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=10)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(1, 50, size=int(offsets[-1])).astype(np.int32)
    targets = rng.integers(0, 3, size=10).astype(np.int64)
    encoded = Encoded(sides=[Side(ids=ids, offsets=offsets)], targets=targets)
    task = TaskPlan.model_construct(type="classification", loss="cross_entropy")
    model = Counting()
    out = run_model(model, encoded, task, batch_size=4, pad_id=0)
    assert model.calls == 3  # ceil(10 / 4) batches, one pass each
    logits = torch.from_numpy(np.stack(out.values))
    expected = nn.functional.cross_entropy(logits, torch.from_numpy(targets)).item()
    assert out.loss is not None and abs(out.loss - expected) < 1e-5
