"""The L-BFGS linear head reaches the optimum of its convex objective: the same weights and
objective as a long run of plain gradient descent on the same tiny problem."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from etbuilder.runtime.strategies.lbfgs_head import fit_lbfgs, l2_penalty, objective


def _problem(task: str) -> tuple[list[dict[str, torch.Tensor]], nn.Linear]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(90, 6, generator=g)
    if task == "classes":
        y = (x @ torch.randn(6, 3, generator=g) + 0.8 * torch.randn(90, 3, generator=g)).argmax(1)
        head = nn.Linear(6, 3)
    else:
        y = x @ torch.randn(6, generator=g) + 0.3 * torch.randn(90, generator=g)
        head = nn.Linear(6, 1)
    torch.manual_seed(1)
    head.reset_parameters()
    # three uneven chunks: the objective weighs them by their rows
    chunks = [{"x": x[a:b], "y": y[a:b]} for a, b in ((0, 40), (40, 70), (70, 90))]
    return chunks, head


def _loss(task: str):  # the task losses the features runtime passes in
    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = model(batch["x"])
        if task == "classes":
            return F.cross_entropy(out, batch["y"])
        return F.mse_loss(out.squeeze(-1), batch["y"])

    return loss


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: more threads only wait on each other on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gradient_descent(head: nn.Module, chunks, loss, l2: float, steps: int) -> None:
    """Plain full-batch gradient descent on the same objective, for many steps."""
    optimizer = torch.optim.SGD(head.parameters(), lr=0.3)
    for _ in range(steps):
        optimizer.zero_grad()
        objective(head, chunks, loss, l2)
        optimizer.step()


@pytest.mark.parametrize("task", ["classes", "regression"])
@pytest.mark.parametrize("l2", [1e-1, 1e-2])
def test_lbfgs_reaches_the_optimum_of_a_long_gradient_descent(task: str, l2: float) -> None:
    chunks, head = _problem(task)
    loss = _loss(task)
    sgd = nn.Linear(head.in_features, head.out_features)
    sgd.load_state_dict(head.state_dict())

    start = objective(head, chunks, loss, l2).item()
    fit = fit_lbfgs(head, chunks, loss, l2)
    _gradient_descent(sgd, chunks, loss, l2, steps=5_000)
    reached = objective(sgd, chunks, loss, l2).item()

    assert fit["objective"] < start
    assert fit["objective"] == pytest.approx(reached, abs=1e-6)
    assert torch.allclose(head.weight, sgd.weight, atol=1e-3)
    assert torch.allclose(head.bias, sgd.bias, atol=1e-3)
    assert fit["iterations"] < 500  # converged before the cap
    for p in head.parameters():  # no stale gradients are left behind
        assert p.grad is None


def test_the_objective_is_the_mean_loss_over_all_rows_plus_the_penalty() -> None:
    chunks, head = _problem("classes")
    loss = _loss("classes")
    x = torch.cat([c["x"] for c in chunks])
    y = torch.cat([c["y"] for c in chunks])
    whole = F.cross_entropy(head(x), y) + 0.05 * 0.5 * head.weight.pow(2).sum()
    assert objective(head, chunks, loss, 0.05).item() == pytest.approx(whole.item(), rel=1e-6)
    assert l2_penalty(head).item() == pytest.approx(0.5 * head.weight.pow(2).sum().item())
