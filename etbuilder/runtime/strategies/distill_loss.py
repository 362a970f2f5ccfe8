"""The distillation loss: alpha * T^2 * soft-target loss + (1 - alpha) * hard-label loss.

The training split carries its soft targets: `pack_targets` appends the teacher's logits to each
example's hard target, so the loop's batches hold both in `labels` and `distill_loss` splits them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from etbuilder.plan import TaskPlan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.runtime.heads import logits_of

DISTILLABLE = tuple(name for name, rule in TASK_RULES.items() if rule.distills)
"""Tasks with one output row per example (a teacher's token logits need its tokenizer)."""


def hard_width(task: TaskPlan) -> int:
    """Columns of the hard target: 1 (class index or value), or the labels (multi-hot)."""
    return len(task.labels) if TASK_RULES[task.type].output == "labels" else 1


def pack_targets(task: TaskPlan, targets: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """[hard target columns | teacher logits] per example, float32."""
    hard = np.asarray(targets, dtype=np.float32).reshape(len(targets), -1)
    soft = np.asarray(teacher, dtype=np.float32).reshape(len(targets), -1)
    return np.concatenate([hard, soft], axis=1)


def soft_hard_loss(
    task: TaskPlan,
    student: torch.Tensor,
    teacher: torch.Tensor,
    hard: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """alpha * T^2 * soft(student/T, teacher/T) + (1 - alpha) * hard(student, labels)."""
    t = temperature
    output = TASK_RULES[task.type].output
    if output == "labels":
        soft = nn.functional.binary_cross_entropy_with_logits(
            student / t, torch.sigmoid(teacher / t)
        )
        hard_loss = nn.functional.binary_cross_entropy_with_logits(student, hard)
    elif output == "value":
        soft = nn.functional.mse_loss(student.squeeze(-1), teacher.squeeze(-1))
        hard_loss = nn.functional.mse_loss(student.squeeze(-1), hard.squeeze(-1))
        t = 1.0  # no temperature on values
    else:
        soft = nn.functional.kl_div(
            nn.functional.log_softmax(student / t, dim=-1),
            nn.functional.log_softmax(teacher / t, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        hard_loss = nn.functional.cross_entropy(student, hard.squeeze(-1).long())
    return alpha * t * t * soft + (1.0 - alpha) * hard_loss


def distill_loss(
    temperature: float, alpha: float
) -> Callable[[nn.Module, dict[str, Any], TaskPlan, dict[str, float]], torch.Tensor]:
    """A loss with the loop's signature that reads packed labels (see `pack_targets`)."""

    def loss(
        model: nn.Module, batch: dict[str, Any], task: TaskPlan, _: dict[str, float]
    ) -> torch.Tensor:
        labels = batch["labels"].float()
        width = hard_width(task)
        student = logits_of(model, batch)
        return soft_hard_loss(
            task, student, labels[:, width:], labels[:, :width], temperature, alpha
        )

    return loss
