"""Cross-field rules of the training setup: precision, compute layout, schedule and deploy.

Listed in `etbuilder.spec.rules.RULES` with the other rules. Whether the hardware really has a GPU
is the compiler's question; these rules only catch settings that contradict each other.
"""

from __future__ import annotations

from etbuilder.spec._finding import Finding, RuleContext
from etbuilder.spec.spec import Spec


def fp16_needs_gpu(spec: Spec, context: RuleContext) -> list[Finding]:
    """fp16 training needs a GPU; on a CPU use bf16 or fp32."""
    if spec.train.precision == "fp16" and spec.compute.devices == "cpu":
        return [
            Finding(
                ("train", "precision"),
                "fp16 needs a GPU, but compute.devices is cpu",
                "use precision: bf16 or fp32 on a CPU, or compute.devices: auto/cuda",
            )
        ]
    return []


def fsdp_needs_processes(spec: Spec, context: RuleContext) -> list[Finding]:
    """FSDP shards across processes; one local process has nothing to shard across."""
    compute = spec.compute
    if compute.parallelism != "fsdp" or compute.nodes > 1:
        return []
    if compute.engine == "local" or compute.processes_per_node == 1:
        return [
            Finding(
                ("compute", "parallelism"),
                "fsdp shards the model across processes, but this layout runs one process",
                "use engine torchrun with compute.processes_per_node above 1 (or more nodes), "
                "or parallelism: ddp",
            )
        ]
    return []


def sharding_needs_fsdp(spec: Spec, context: RuleContext) -> list[Finding]:
    """`sharding: hybrid` is an FSDP layout across nodes; elsewhere it would do nothing."""
    compute = spec.compute
    if compute.sharding == "full":
        return []
    if compute.parallelism != "fsdp":
        return [
            Finding(
                ("compute", "sharding"),
                "sharding: hybrid shapes how FSDP shards, but parallelism is ddp (a full copy "
                "in every process)",
                "set compute.parallelism: fsdp, or remove compute.sharding",
            )
        ]
    if compute.nodes == 1:
        return [
            Finding(
                ("compute", "sharding"),
                "sharding: hybrid shards within a node and replicates across nodes, but this "
                "job has one node (it would be full sharding)",
                "use sharding: full on one node, or set compute.nodes above 1",
            )
        ]
    return []


def multi_node_needs_launcher(spec: Spec, context: RuleContext) -> list[Finding]:
    """More than one node needs torchrun or ray, and a rendezvous address every node reaches."""
    compute = spec.compute
    if compute.nodes == 1:
        return []
    if compute.engine == "local":
        return [
            Finding(
                ("compute", "nodes"),
                f"{compute.nodes} nodes need a launcher that spans machines, but engine is local",
                "set compute.engine: torchrun (or ray) and compute.rendezvous: host:port",
            )
        ]
    if not compute.rendezvous:
        what = "host:port of node 0" if compute.engine == "torchrun" else "the Ray head address"
        return [
            Finding(
                ("compute", "rendezvous"),
                f"{compute.nodes} nodes under {compute.engine} need a rendezvous address",
                f"set compute.rendezvous to {what}, reachable from every node",
            )
        ]
    return []


def rendezvous_is_host_port(spec: Spec, context: RuleContext) -> list[Finding]:
    """torchrun's rendezvous is `host:port`."""
    address = spec.compute.rendezvous
    if spec.compute.engine != "torchrun" or not address:
        return []
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and 0 < int(port) < 65536:
        return []
    return [
        Finding(
            ("compute", "rendezvous"),
            f"'{address}' is not host:port",
            "e.g. rendezvous: node0.cluster:29500",
        )
    ]


def early_stopping_needs_validation(spec: Spec, context: RuleContext) -> list[Finding]:
    """Early stopping watches the validation metric, so there must be validation data."""
    data = spec.data
    no_split = data.split is not None and data.split.validation == 0
    if spec.train.early_stopping is not None and data.validation is None and no_split:
        return [
            Finding(
                ("train", "early_stopping"),
                "early stopping watches the validation metric, but there is no validation data "
                "(data.split.validation is 0 and data.validation is not set)",
                "set data.split.validation above 0 or give data.validation, or remove "
                "early_stopping",
                key=True,
            )
        ]
    return []


def warmup_steps_are_whole(spec: Spec, context: RuleContext) -> list[Finding]:
    """A warmup of 1 or more counts steps, so it must be a whole number."""
    warmup = spec.train.warmup
    if warmup is not None and warmup >= 1 and warmup != int(warmup):
        return [
            Finding(
                ("train", "warmup"),
                f"warmup {warmup:g} counts steps (it is 1 or more) but is not a whole number",
                "use a fraction below 1 for a share of the steps, or a whole number of steps",
            )
        ]
    return []
