"""Task heads: losses computed in fp32 from the model outputs, embedding target scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from etbuilder.plan import TaskPlan
from etbuilder.runtime.heads import HEADS, IN_BATCH_SCALE, head_of, target_scale


def task(kind: str, loss: str = "cosine") -> TaskPlan:
    return TaskPlan(
        type=kind,  # type: ignore[arg-type]
        head="h",
        loss=loss,
        metric="spearman",
        metric_direction="maximize",
        pooling="mean",
        max_length=16,
    )


class Lookup(nn.Module):
    """A stand-in encoder: the vector of a text is a row of a table, picked by its first id."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids[:, 0]]


def pair_batch(labels: list[float] | None) -> dict[str, torch.Tensor]:
    ids = torch.tensor([[0], [1]])
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "b_input_ids": ids + 2,
        "b_attention_mask": torch.ones_like(ids),
    }
    if labels is not None:
        batch["labels"] = torch.tensor(labels)
    return batch


def test_scores_outside_unit_range_are_scaled_for_the_cosine_loss() -> None:
    assert target_scale(task("embedding"), np.array([0.0, 2.5, 5.0])) == {"low": 0.0, "high": 5.0}
    assert target_scale(task("embedding"), np.array([0.2, 0.9])) == {"low": 0.0, "high": 1.0}
    assert target_scale(task("regression", "mse"), np.array([0.0, 5.0])) == {}


def test_cosine_loss_is_mse_between_cosine_and_scaled_score() -> None:
    table = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    model = Lookup(table)
    loss = head_of(task("embedding")).loss(
        model, pair_batch([5.0, 0.0]), task("embedding"), {"high": 5.0}
    )
    # pair 0: cos 1 vs target 1; pair 1: cos 0 vs target 0
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    loss = head_of(task("embedding")).loss(
        model, pair_batch([0.0, 5.0]), task("embedding"), {"high": 5.0}
    )
    assert loss.item() == pytest.approx(1.0, abs=1e-6)


def test_in_batch_negatives_prefers_the_matching_pair() -> None:
    aligned = Lookup(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    crossed = Lookup(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]))
    head = HEADS["in_batch_negatives"]
    good = head.loss(aligned, pair_batch(None), task("embedding", "in_batch_negatives"), {}).item()
    bad = head.loss(crossed, pair_batch(None), task("embedding", "in_batch_negatives"), {}).item()
    expected = float(np.log1p(np.exp(-IN_BATCH_SCALE)))
    assert good == pytest.approx(expected, abs=1e-6)
    assert bad > good + 10
