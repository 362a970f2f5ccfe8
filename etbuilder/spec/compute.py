"""`compute:` where and how many processes train."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from etbuilder.spec._base import SpecModel


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
    """Data parallel (each process a full copy); `fsdp` (fully sharded) is reserved and refused by
`etb plan` and `etb run` in this version."""
    rendezvous: str | None = None
    """`host:port` every node reaches: the first node for multi-node torchrun; for engine ray the
Ray cluster address (empty: start a local Ray)."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads per process; default: the cores available divided by the processes."""
