"""The distillation loss: the teacher term is there (and weighted by alpha), the hard term too."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _task(kind: str = "classification", labels: tuple[str, ...] = ("neg", "pos")):
    from etbuilder.plan import TaskPlan

    return TaskPlan(
        type=kind,
        labels=list(labels),
        head="linear",
        loss="x",
        metric="accuracy",
        metric_direction="maximize",
        pooling="cls",
        max_length=16,
    )


@pytest.mark.parametrize("kind", ["classification", "multilabel", "regression"])
def test_soft_term_follows_the_teacher_and_alpha(kind: str) -> None:
    from etbuilder.runtime.strategies.distill_loss import soft_hard_loss

    torch.manual_seed(0)
    k = 1 if kind == "regression" else 3
    student = torch.randn(8, k)
    hard = (
        torch.randint(0, 3, (8, 1)).float()
        if kind == "classification"
        else torch.randint(0, 2, (8, k)).float()
    )
    teacher_a, teacher_b = torch.randn(8, k), torch.randn(8, k) * 3
    task = _task(kind, ("a", "b", "c"))
    loss = lambda t, alpha: float(soft_hard_loss(task, student, t, hard, 2.0, alpha))  # noqa: E731
    assert loss(teacher_a, 0.5) != pytest.approx(loss(teacher_b, 0.5))
    assert loss(teacher_a, 0.0) == pytest.approx(loss(teacher_b, 0.0))  # hard labels only
    if kind == "classification":  # KL is zero when the student is the teacher
        assert float(soft_hard_loss(task, student, student, hard, 2.0, 1.0)) == pytest.approx(
            0.0, abs=1e-6
        )


def test_packed_labels_carry_hard_targets_and_teacher_logits() -> None:
    from etbuilder.runtime.strategies.distill_loss import distill_loss, pack_targets

    task = _task()
    packed = pack_targets(task, np.array([0, 1, 1]), np.array([[2.0, -1.0], [0.0, 1.0], [1, 3]]))
    assert packed.shape == (3, 3) and packed[:, 0].tolist() == [0, 1, 1]

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, **_):
            return type("Out", (), {"logits": torch.tensor([[2.0, -1.0], [0.0, 1.0], [1, 3.0]])})

    batch = {"input_ids": torch.zeros(3, 2, dtype=torch.long), "labels": torch.from_numpy(packed)}
    soft_only = distill_loss(2.0, 1.0)(Fixed(), batch, task, {})
    assert float(soft_only) == pytest.approx(0.0, abs=1e-6)  # student == teacher
    hard_only = distill_loss(2.0, 0.0)(Fixed(), batch, task, {})
    expected = torch.nn.functional.cross_entropy(
        torch.tensor([[2.0, -1.0], [0.0, 1.0], [1, 3.0]]), torch.tensor([0, 1, 1])
    )
    assert float(hard_only) == pytest.approx(float(expected))
