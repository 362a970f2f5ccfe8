"""`compute.parallelism: fsdp`: PyTorch FSDP2 (`fully_shard`) around the task model.

Every transformer layer (each child of a `ModuleList`) is one FSDP unit and the root holds the
rest (embeddings, head): between forward passes each process keeps only its shard of every
weight, gradient and AdamW moment. `full` sharding shards over all processes (one mesh
dimension); `hybrid` shards within a node and replicates across nodes (a 2-D mesh: replicate x
shard), so the all-gathers stay on a node's fast links.

Checkpoints hold the full state dict gathered on rank 0 (CPU): the same `model.safetensors` and
`optimizer.pt` a one-process run writes, so packaging reads them unchanged; on resume every rank
reads the files and keeps its shard. Tested on CPU with gloo (torch 2.13): full and hybrid
sharding, frozen parameters (freeze, LoRA), gradient accumulation.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from etbuilder.plan import Plan


def sharded(plan: Plan, world: int) -> bool:
    """Whether this run trains a sharded model."""
    return plan.compute.parallelism == "fsdp" and world > 1


def shard_model(model: nn.Module, plan: Plan, device: torch.device) -> nn.Module:
    """Shard `model` in place over the plan's mesh (after moving it to `device`)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    compute = plan.compute
    model.to(device)
    if compute.sharding == "hybrid":
        mesh = init_device_mesh(
            device.type,
            (compute.nodes, compute.processes_per_node),
            mesh_dim_names=("replicate", "shard"),
        )
    else:
        mesh = init_device_mesh(device.type, (compute.world_size,))
    for layers in [m for m in model.modules() if isinstance(m, nn.ModuleList)]:
        for layer in layers:
            if any(p.numel() for p in layer.parameters()):
                fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def figures(model: nn.Module, plan: Plan) -> dict[str, Any]:
    """What the sharding did, for metrics.json: parameters in the model and in rank 0's shard."""
    from torch.distributed.tensor import DTensor

    whole = local = 0
    for param in model.parameters():
        whole += param.numel()
        local += param.to_local().numel() if isinstance(param, DTensor) else param.numel()
    return {
        "sharding": plan.compute.sharding,
        "parameters": whole,
        "parameters_on_rank0": local,
    }


def reshard(model: nn.Module) -> None:
    """Drop the gathered weights a forward pass without backward leaves on the root unit."""
    model.reshard()  # type: ignore[operator]


def set_gradient_sync(model: nn.Module, sync: bool) -> None:
    """Reduce-scatter the gradients in this backward (False while accumulating)."""
    model.set_requires_gradient_sync(sync)  # type: ignore[operator]


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full weights on rank 0 (CPU), an empty dict elsewhere; every rank must call it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return dict(get_model_state_dict(model, options=options))  # type: ignore[arg-type]


def full_optimizer_state(model: nn.Module, optimizer: Any) -> dict[str, Any]:
    """The optimizer state keyed by parameter names, full, on rank 0; every rank calls it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], *, from_rank0: bool) -> None:
    """Each rank takes its shard of full `weights` (held by rank 0 only when `from_rank0`)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=from_rank0)
    set_model_state_dict(model, dict(weights), options=options)


def load_optimizer_state(model: nn.Module, optimizer: Any, state: dict[str, Any]) -> None:
    """Each rank takes its shard of a full optimizer state (every rank holds it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    set_optimizer_state_dict(model, optimizer, state, options=options)


def clip(params: list[torch.Tensor], max_norm: float | None) -> None:
    """Clip the global norm of sharded gradients (the norm spans every shard)."""
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, max_norm)
