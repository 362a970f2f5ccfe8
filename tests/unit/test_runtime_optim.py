"""The optimizer: decay groups, freezing, lazy sparse rows equal to dense AdamW on the rows a
batch touches, sparse-aware clipping, and the schedules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from etbuilder.plan import SchedulePlan
from etbuilder.runtime.optim import (
    LazyAdamW,
    build_optimizer,
    clip_gradients,
    freeze_modules,
    lr_lambda,
)


def schedule(**changes: object) -> SchedulePlan:
    values: dict[str, object] = dict(
        epochs=1, batch_size=4, accumulation=1, processes=1, global_batch=4,
        steps_per_epoch=10, total_steps=10, warmup_steps=2, learning_rate=0.1,
        schedule="linear", weight_decay=0.01, max_grad_norm=1.0, seed=0,
        deterministic=False, time_budget_s=None, checkpoint_every=None, eval_every=None,
        keep_checkpoints=2,
    )  # fmt: skip
    values.update(changes)
    return SchedulePlan(**values)  # type: ignore[arg-type]


class Tiny(nn.Module):
    base_model_prefix = "bert"

    def __init__(self) -> None:
        super().__init__()
        self.bert = nn.ModuleDict(
            {
                "embeddings": nn.Embedding(50, 4),
                "layer": nn.Linear(4, 4),
                "LayerNorm": nn.LayerNorm(4),
            }
        )
        self.classifier = nn.Linear(4, 2)


def test_no_decay_on_bias_and_layernorm_and_frozen_parameters_left_out() -> None:
    model = Tiny()
    frozen = freeze_modules(model, ["embeddings"])
    assert frozen == ["bert.embeddings.weight"]
    opt = build_optimizer(model, schedule())
    by_decay = {g["weight_decay"]: g["params"] for g in opt.param_groups}
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in by_decay[0.01])
    plain = sorted(names[id(p)] for p in by_decay[0.0])
    assert decayed == ["bert.layer.weight", "classifier.weight"]
    assert plain == [
        "bert.LayerNorm.bias",
        "bert.LayerNorm.weight",
        "bert.layer.bias",
        "classifier.bias",
    ]


def test_lazy_rows_match_dense_adamw_on_touched_rows() -> None:
    torch.manual_seed(0)
    dense = nn.Embedding(20, 3)
    sparse = nn.Embedding(20, 3, sparse=True)
    sparse.load_state_dict(dense.state_dict())
    opt_d = torch.optim.AdamW(dense.parameters(), lr=0.05, weight_decay=0.1)
    opt_s = LazyAdamW(sparse.parameters(), lr=0.05, weight_decay=0.1)
    ids = torch.tensor([[1, 4, 4, 7]])
    for model, opt in ((dense, opt_d), (sparse, opt_s)):
        model(ids).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    touched = [1, 4, 7]
    untouched = [i for i in range(20) if i not in touched]
    assert torch.allclose(dense.weight[touched], sparse.weight[touched], atol=1e-6)
    torch.manual_seed(0)
    before = nn.Embedding(20, 3)
    assert torch.equal(sparse.weight[untouched], before.weight[untouched])
    state = opt_s.state_dict()
    assert state["state"][0]["exp_avg"].shape == (20, 3)


def test_lazy_state_round_trips_through_state_dict() -> None:
    torch.manual_seed(1)
    emb = nn.Embedding(10, 2, sparse=True)
    opt = LazyAdamW(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    opt.step()
    saved = opt.state_dict()
    clone = LazyAdamW(emb.parameters(), lr=0.1)
    clone.load_state_dict(saved)
    assert torch.equal(clone.state[emb.weight]["exp_avg"], opt.state[emb.weight]["exp_avg"])


def test_clipping_counts_sparse_gradients() -> None:
    torch.manual_seed(2)
    emb = nn.Embedding(10, 3, sparse=True)
    lin = nn.Linear(3, 1)
    lin(emb(torch.tensor([1, 2, 2]))).sum().backward()
    params = [emb.weight, *lin.parameters()]
    dense_grads = [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in params]
    expected = torch.linalg.vector_norm(torch.stack([g.norm() for g in dense_grads]))
    total = clip_gradients(params, 0.01)
    assert torch.allclose(total, expected)
    after = [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in params]
    new_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in after]))
    assert new_norm == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize(("kind", "at_end"), [("linear", 0.0), ("cosine", 0.0), ("constant", 1.0)])
def test_schedules_warm_up_then_decay(kind: str, at_end: float) -> None:
    f = lr_lambda(schedule(schedule=kind, warmup_steps=2, total_steps=10))
    assert f(0) < f(1) < f(2) == pytest.approx(1.0)
    assert f(10) == pytest.approx(at_end)


def test_sparse_embeddings_only_on_a_single_cpu_process() -> None:
    from etbuilder.runtime.loop import use_sparse_embeddings

    assert use_sparse_embeddings("cpu", 1)
    assert not use_sparse_embeddings("cuda", 1)  # measured 4x slower on an H100 in bf16
    assert not use_sparse_embeddings("cpu", 2)  # DDP all-reduces dense gradients


def test_gpu_runs_keep_attention_off_cudnn() -> None:
    """cuDNN attention builds a graph per sequence length: 2.4x slower with dynamic padding."""
    import torch

    from etbuilder.runtime.setup import avoid_cudnn_attention

    before = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        torch.backends.cuda.enable_cudnn_sdp(True)
        avoid_cudnn_attention()
        assert not torch.backends.cuda.cudnn_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)
