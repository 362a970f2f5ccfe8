"""Pass `layout_compute`: processes per node, threads, and each node's exact command line."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.passes.precision import uses_gpu
from etbuilder.errors import CompileError
from etbuilder.plan import ComputePlan, NodeCommand
from etbuilder.spec._base import parse_duration

LAUNCH_MODULE = "etbuilder.cli.launch"
"""What torchrun starts in each process: it reads the plan JSON."""


def run_dir(ctx: CompileContext) -> str:
    """The folder the run writes (its timestamped subfolder is made by `etb run`)."""
    return f"runs/{ctx.spec.name}"


def plan_path(ctx: CompileContext) -> str:
    """Where the launch commands expect the plan: `etb plan SPEC --json > <this>`."""
    return f"{run_dir(ctx)}/plan.json"


MIN_COLLECTIVE_TIMEOUT_S = 300.0
"""The shortest collective timeout the compiler chooses: a hung rank fails the job within about
5 minutes instead of torch's 30, while slow but healthy phases (loading, a checkpoint) fit."""


def layout_compute(ctx: CompileContext) -> CompileContext:
    """Resolve the process layout and write each node's command line."""
    compute = ctx.spec.compute
    gpu = uses_gpu(ctx)
    ppn_spec = compute.processes_per_node
    if ppn_spec == "auto":
        ppn = ctx.hardware.device_count if gpu and ctx.hardware.device == "cuda" else 1
        why = f"auto: one per GPU ({ppn})" if gpu else "auto: one process on a CPU machine"
        ctx = ctx.decide("compute.processes_per_node", ppn, why, "default")
    else:
        ppn = ppn_spec
    if compute.engine == "local" and (ppn > 1 or compute.nodes > 1):
        raise CompileError(
            f"compute.engine local runs a single process, but the spec asks for {compute.nodes} "
            f"node(s) x {ppn} process(es); set compute.engine: torchrun"
        )
    if compute.engine == "local" and compute.rendezvous:
        raise CompileError(
            f"compute.rendezvous ({compute.rendezvous}) is where torchrun processes meet, but "
            "compute.engine local starts one process; remove it or set compute.engine: torchrun"
        )
    if compute.engine == "torchrun" and compute.rendezvous:
        split_endpoint(compute.rendezvous)
    if compute.nodes > 1 and not compute.rendezvous and compute.engine == "torchrun":
        raise CompileError(
            f"{compute.nodes} nodes need a meeting point: set compute.rendezvous to host:port "
            "of the first node (reachable from every node)"
        )
    world = compute.nodes * ppn
    if compute.parallelism == "fsdp" and world == 1:
        raise CompileError(
            "compute.parallelism fsdp shards the model across processes, but this layout runs "
            f"one ({compute.processes_per_node} per node on this machine): set "
            "compute.processes_per_node above 1, or parallelism: ddp"
        )
    if compute.collective_timeout is not None and world == 1:
        raise CompileError(
            f"compute.collective_timeout {compute.collective_timeout} bounds how long processes "
            "wait for each other, but this layout runs one process, which never waits: remove "
            "it, or train with several processes (compute.processes_per_node, compute.nodes)"
        )
    cores = ctx.hardware.cpu_cores
    if compute.threads is not None:
        threads = compute.threads
    else:
        threads = max(1, cores // ppn)
        ctx = ctx.decide(
            "compute.threads", threads, f"{cores} CPU cores / {ppn} process(es) per node"
        )
    env = {"OMP_NUM_THREADS": str(threads)}
    commands = _commands(ctx, compute.engine, compute.nodes, ppn, world, env)
    sparse = world == 1 and not gpu
    ctx = ctx.decide(
        "compute.sparse_embeddings",
        sparse,
        "one CPU process: lazy AdamW rows for the word embeddings"
        if sparse
        else "dense gradients: DDP all-reduces them and a GPU runs the dense update fast",
    )
    plan = ComputePlan(
        engine=compute.engine,
        nodes=compute.nodes,
        processes_per_node=ppn,
        world_size=world,
        parallelism=compute.parallelism,
        sharding=compute.sharding if compute.parallelism == "fsdp" else None,
        collective_timeout_s=parse_duration(compute.collective_timeout)
        if compute.collective_timeout
        else MIN_COLLECTIVE_TIMEOUT_S,  # the estimates pass raises it to fit the evaluation
        threads_per_process=threads,
        commands=commands,
        sparse_embeddings=sparse,
        address=compute.rendezvous if compute.engine == "ray" else None,
    )
    if compute.parallelism == "fsdp":
        ctx = ctx.decide(
            "compute.fsdp_checkpoint",
            "full state dict on rank 0",
            "checkpoints gather the sharded weights and optimizer state into the same files as "
            "a one-process run (model.safetensors, optimizer.pt), so packaging and --resume "
            "read them unchanged; each rank takes its shard back on resume",
        )
    ctx = ctx.decide(
        "compute.world_size", world, f"{compute.nodes} node(s) x {ppn} process(es) per node"
    )
    return ctx.replace(compute=plan)


def _commands(
    ctx: CompileContext, engine: str, nodes: int, ppn: int, world: int, env: dict[str, str]
) -> list[NodeCommand]:
    plan_json = plan_path(ctx)
    if engine in ("local", "ray"):  # ray: this one driver asks the cluster for the workers
        spec = str(ctx.spec_path) if ctx.spec_path else f"{ctx.spec.name}.yaml"
        return [NodeCommand(node=0, argv=["etb", "run", spec, "--output", run_dir(ctx)], env=env)]
    if nodes == 1 and not ctx.spec.compute.rendezvous:  # a single machine meets itself
        argv = [
            "torchrun",
            "--standalone",
            "--nproc-per-node",
            str(ppn),
            "-m",
            LAUNCH_MODULE,
            plan_json,
        ]
        return [NodeCommand(node=0, argv=argv, env=env)]
    host, port = split_endpoint(ctx.spec.compute.rendezvous or "")
    # --master-addr/--master-port (torchrun's static rendezvous): node R holds ranks
    # R*ppn..R*ppn+ppn-1, so node 0 holds rank 0, which writes the run folder. (The c10d
    # rendezvous would ignore --node-rank and number the nodes in order of arrival.)
    return [
        NodeCommand(
            node=rank,
            argv=[
                "torchrun",
                "--nnodes",
                str(nodes),
                "--nproc-per-node",
                str(ppn),
                "--node-rank",
                str(rank),
                "--master-addr",
                host,
                "--master-port",
                port,
                "-m",
                LAUNCH_MODULE,
                plan_json,
            ],
            env=env,
        )
        for rank in range(nodes)
    ]


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """`host:port` -> (host, port); anything else is a CompileError naming the field."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CompileError(
            f"compute.rendezvous {endpoint!r} is not host:port: write the first node's address "
            "and a free port every node can reach, e.g. 10.0.0.1:29500"
        )
    return host, port
