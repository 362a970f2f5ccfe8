"""A linear head on fixed features solved as the convex problem it is: full-batch L-BFGS.

The objective is the task's own loss (cross-entropy, binary cross-entropy, squared error, each
with its class weights or scaling) averaged over the whole split, plus `l2 / 2 x |W|^2` on the
weight matrices (not the biases). It is evaluated in chunks so a large split never builds one
huge graph; the gradient is exact. L-BFGS with a strong-Wolfe line search needs no learning rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

Batch = dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]

MAX_ITERATIONS = 500
"""L-BFGS iterations per L2 strength (a warm start usually converges in far fewer)."""


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """Half the squared norm of the weight matrices (biases are not penalised)."""
    terms = [0.5 * p.pow(2).sum() for p in model.parameters() if p.requires_grad and p.dim() > 1]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def objective(model: nn.Module, chunks: Sequence[Batch], loss: LossFn, l2: float) -> torch.Tensor:
    """The regularised mean loss over `chunks`, its gradient accumulated into the parameters
    (chunk losses weighted by their rows). Returns the value, detached."""
    rows = sum(len(next(iter(c.values()))) for c in chunks)
    total = torch.zeros(())
    for chunk in chunks:
        n = len(next(iter(chunk.values())))
        value = loss(model, chunk) * (n / rows)
        value.backward()
        total += value.detach()
    if l2 > 0:
        penalty = l2 * l2_penalty(model)
        penalty.backward()
        total += penalty.detach()
    return total


def fit_lbfgs(
    model: nn.Module,
    chunks: Sequence[Batch],
    loss: LossFn,
    l2: float,
    *,
    max_iterations: int = MAX_ITERATIONS,
) -> dict[str, Any]:
    """Minimise the regularised loss from the model's current weights; returns the final
    objective and the iterations and function evaluations used."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iterations,
        max_eval=max_iterations * 2,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad(set_to_none=False)
        return objective(model, chunks, loss, l2)

    was_training = model.training
    model.eval()  # the objective is deterministic: no dropout
    optimizer.step(closure)
    state = optimizer.state[optimizer._params[0]]
    optimizer.zero_grad(set_to_none=True)
    with torch.enable_grad():
        final = objective(model, chunks, loss, l2)
    for p in params:
        p.grad = None
    model.train(was_training)
    return {
        "objective": float(final),
        "iterations": int(state.get("n_iter", 0)),
        "evaluations": evaluations,
    }
