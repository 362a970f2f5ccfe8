"""`compute:` where and how many processes train."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from etbuilder.spec._base import DURATION_PATTERN, SpecModel


class ComputeSpec(SpecModel):
    """The hardware layout and the launcher."""

    engine: Literal["local", "torchrun", "ray"] = "local"
    """Launcher: one local process; torchrun (one or many nodes, `etb run SPEC --node-rank R
--master HOST:PORT` on each); or ray (Ray Train workers on the cluster at `rendezvous`, or on a
local Ray started for the run; needs `pip install 'etbuilder[ray]'`)."""
    devices: Literal["auto", "cpu", "cuda"] = "auto"
    """Accelerator: auto uses a GPU when one is present."""
    nodes: int = Field(default=1, ge=1, le=4096)
    """Machines taking part."""
    processes_per_node: Literal["auto"] | Annotated[int, Field(ge=1, le=1024)] = 1
    """Training processes per machine; auto is one per GPU (or 1 on a CPU)."""
    parallelism: Literal["ddp", "fsdp"] = "ddp"
    """ddp: data parallel, each process holds a full copy of the model; fsdp: fully sharded
data parallel (PyTorch FSDP2 `fully_shard`, torchrun only), each process holds a shard of every
layer's weights, gradients and optimizer state, for models that do not fit one device."""
    sharding: Literal["full", "hybrid"] = "full"
    """fsdp only: full shards over every process of the job; hybrid shards within each node and
replicates across nodes (fewer slow inter-node collectives; needs nodes > 1)."""
    rendezvous: str | None = None
    """`host:port` every node reaches: the first node for multi-node torchrun; for engine ray the
Ray cluster address (empty: start a local Ray)."""
    collective_timeout: str | None = Field(default=None, pattern=DURATION_PATTERN)
    """How long a process waits for the others in one collective (`90s`, `10m`) before the job
fails naming the ranks that stopped answering; default: the compiler's choice, at least 5 min
and longer than the estimated validation pass (rank 0 evaluates while the others wait).
Refused on a single process, which never waits."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads per process; default: the cores available divided by the processes."""
