"""Per loss: the model's raw output for a batch and the training loss.

A table keyed by the plan's loss (every loss of the task table is a row, checked at import),
instead of string dispatch in the loop.
Losses are computed here in fp32 from the logits, never by the HF model (which would compute them
in the autocast dtype).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from etbuilder.plan import TaskPlan
from etbuilder.plan.tasks import PAIR_LOSSES, TASK_RULES
from etbuilder.runtime.encode import IGNORE

IN_BATCH_SCALE = 20.0
"""Similarity scale of the in-batch-negatives loss (sentence-transformers' default)."""
CONTRASTIVE_MARGIN = 0.5
"""Cosine-distance margin of the contrastive loss for negative pairs."""


def _inputs(batch: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    keys = ("input_ids", "attention_mask", "token_type_ids")
    return {k: batch[prefix + k] for k in keys if prefix + k in batch}


def logits_of(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """The head's output for a batch of a classifier/tagger, in fp32."""
    return model(**_inputs(batch)).logits.float()


def embed_pair(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors of both sides of a pair batch (embedding task), in fp32."""
    u = model(**_inputs(batch)).float()
    v = model(**_inputs(batch, "b_")).float()
    return u, v


@dataclass(frozen=True)
class Head:
    """What the loop needs to know about one task."""

    outputs: Callable[[nn.Module, dict[str, Any]], torch.Tensor]
    """Raw outputs of a batch: logits, or the cosine similarity of a pair (embedding)."""
    loss: Callable[[nn.Module, dict[str, Any], TaskPlan, dict[str, float]], torch.Tensor]
    """Mean training loss of a labelled batch."""
    loss_of_outputs: Callable[[torch.Tensor, dict[str, Any]], torch.Tensor] | None = None
    """The same loss from `outputs` already computed (evaluation runs the model once); None
    where the loss needs more than the outputs (embedding: both sides' vectors)."""


def _ce_of(logits: torch.Tensor, batch: dict[str, Any]) -> Any:
    return nn.functional.cross_entropy(logits, batch["labels"])


def _bce_of(logits: torch.Tensor, batch: dict[str, Any]) -> Any:
    return nn.functional.binary_cross_entropy_with_logits(logits, batch["labels"].float())


def _mse_of(logits: torch.Tensor, batch: dict[str, Any]) -> Any:
    return nn.functional.mse_loss(logits.squeeze(-1), batch["labels"].float())


def _token_ce_of(logits: torch.Tensor, batch: dict[str, Any]) -> Any:
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE
    )


def _on_logits(of: Callable[[torch.Tensor, dict[str, Any]], Any]) -> Callable[..., Any]:
    """The training loss of a logits task: its model's fp32 logits, then `of`."""

    def loss(model: nn.Module, batch: dict[str, Any], task: TaskPlan, _: dict[str, float]) -> Any:
        return of(logits_of(model, batch), batch)

    return loss


def _pair_cosine(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    u, v = embed_pair(model, batch)
    return nn.functional.cosine_similarity(u, v, dim=-1)


def _embedding_loss(
    model: nn.Module, batch: dict[str, Any], task: TaskPlan, scale: dict[str, float]
) -> Any:
    u, v = embed_pair(model, batch)
    kind = task.loss
    if kind == "in_batch_negatives" or "labels" not in batch:
        u_n = nn.functional.normalize(u, dim=-1)
        v_n = nn.functional.normalize(v, dim=-1)
        scores = u_n @ v_n.T * IN_BATCH_SCALE
        return nn.functional.cross_entropy(scores, torch.arange(len(u), device=u.device))
    cos = nn.functional.cosine_similarity(u, v, dim=-1)
    low, high = scale.get("low", 0.0), scale.get("high", 1.0)
    target = (batch["labels"].float() - low) / max(high - low, 1e-12)
    if kind == "contrastive":
        distance = 1.0 - cos
        positive = target * distance.pow(2)
        negative = (1.0 - target) * nn.functional.relu(CONTRASTIVE_MARGIN - distance).pow(2)
        return (positive + negative).mean() / 2
    return nn.functional.mse_loss(cos, target)


_PAIR_HEAD = Head(_pair_cosine, _embedding_loss)

HEADS: MappingProxyType[str, Head] = MappingProxyType(
    {
        "cross_entropy": Head(logits_of, _on_logits(_ce_of), _ce_of),
        "bce_with_logits": Head(logits_of, _on_logits(_bce_of), _bce_of),
        "mse": Head(logits_of, _on_logits(_mse_of), _mse_of),
        "token_cross_entropy": Head(logits_of, _on_logits(_token_ce_of), _token_ce_of),
        "cosine": _PAIR_HEAD,
        "contrastive": _PAIR_HEAD,
        "in_batch_negatives": _PAIR_HEAD,
    }
)
"""The plan's loss (`TaskPlan.loss`) -> its head."""

_LOSSES = {rule.loss for rule in TASK_RULES.values()} | set(PAIR_LOSSES)
if set(HEADS) != _LOSSES:  # pragma: no cover - a registry bug fails at import
    raise RuntimeError(f"HEADS {sorted(HEADS)} != losses {sorted(_LOSSES)}")


def head_of(task: TaskPlan) -> Head:
    """The head of a task plan, by its loss."""
    return HEADS[task.loss]


def target_scale(task: TaskPlan, targets: np.ndarray | None) -> dict[str, float]:
    """Embedding scores outside [0, 1] (e.g. 0-5 similarity) are scaled into it for the loss."""
    if task.loss not in PAIR_LOSSES or targets is None or not len(targets):
        return {}
    low, high = float(np.min(targets)), float(np.max(targets))
    if low >= 0.0 and high <= 1.0:
        return {"low": 0.0, "high": 1.0}
    return {"low": min(low, 0.0), "high": high}
