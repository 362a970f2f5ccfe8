"""`etb run` on a torchrun plan: start this node's share of the job with the plan's own command.

The compiled plan holds each node's torchrun command line (`etb plan` prints them). `etb run`
writes the plan next to the run folder, takes this node's line, points the rendezvous at
`--master` when given, and runs it; torchrun starts the processes (`etbuilder.cli.launch`),
watches them and, when one dies, stops the others and names the failed rank. The main process's
plan and run folder reach every process over the process group, so all ranks train one plan.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from etbuilder.cli._common import run_child
from etbuilder.errors import RunError
from etbuilder.plan import Plan

UNDER_TORCHRUN = "TORCHELASTIC_RUN_ID"
"""Set by torchrun in every process it starts: `etb run` inside one trains instead of launching."""


def under_torchrun() -> bool:
    return UNDER_TORCHRUN in os.environ or "RANK" in os.environ


def node_argv(
    plan: Plan, plan_file: Path, *, node_rank: int | None, master: str | None
) -> list[str]:
    """The torchrun arguments (without the program) for this node, plan file substituted."""
    nodes = plan.compute.nodes
    if nodes > 1 and node_rank is None:
        raise RunError(
            f"this plan trains on {nodes} nodes: run `etb run SPEC --node-rank R` on each node "
            f"(R = 0..{nodes - 1}), with --master HOST:PORT of node 0 unless "
            "compute.rendezvous says it"
        )
    rank = node_rank or 0
    if not 0 <= rank < nodes:
        raise RunError(f"--node-rank {rank} is outside 0..{nodes - 1} (compute.nodes: {nodes})")
    command = next(c for c in plan.compute.commands if c.node == (rank if nodes > 1 else 0))
    argv = list(command.argv[1:])  # drop the program name: run it as `python -m torch...run`
    argv[-1] = str(plan_file)
    if master is not None:
        host, port = _endpoint(master)
        if "--master-addr" in argv:
            argv[argv.index("--master-addr") + 1] = host
            argv[argv.index("--master-port") + 1] = port
        else:  # one node meeting at an explicit address instead of --standalone
            argv.remove("--standalone")
            argv[:0] = ["--nnodes", "1", "--node-rank", "0", "--master-addr", host,
                        "--master-port", port]  # fmt: skip
    return argv


def _endpoint(master: str) -> tuple[str, str]:
    host, _, port = master.rpartition(":")
    if not host or not port.isdigit():
        raise RunError(f"--master {master!r} is not HOST:PORT (node 0's address and a free port)")
    return host, port


def launch(
    plan: Plan,
    run_dir: Path | None,
    *,
    node_rank: int | None,
    master: str | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Run this node's torchrun command and wait; a failed job raises RunError."""
    with tempfile.TemporaryDirectory(prefix="etb-plan-") as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(plan.to_json(), encoding="utf-8")
        argv = node_argv(plan, plan_file, node_rank=node_rank, master=master)
        if run_dir is not None:
            argv += ["--output", str(run_dir)]
        if resume:
            argv.append("--resume")
        if quiet:
            argv.append("--quiet")
        env = dict(os.environ)
        for command in plan.compute.commands[:1]:
            for key, value in command.env.items():
                env.setdefault(key, value)
        returncode = run_child([sys.executable, "-m", "torch.distributed.run", *argv], env=env)
    if returncode != 0:
        where = f" --output {run_dir}" if run_dir is not None else ""
        raise RunError(
            f"torchrun stopped the job (exit code {returncode}); the rank that failed and "
            f"why are named above. Continue from the last checkpoint with `etb run SPEC "
            f"--resume{where}` on every node"
        )
