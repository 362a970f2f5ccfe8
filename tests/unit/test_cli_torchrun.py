"""`etb run` on a torchrun plan: the command each node runs, and what `etb plan` prints for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_compiler_fixtures import GPU, classification_csv, compile_project

from etbuilder.cli.plan import batch_math, etb_run_lines
from etbuilder.cli.torchrun import node_argv
from etbuilder.errors import RunError
from etbuilder.plan import Plan

TWO_NODES = "compute: {engine: torchrun, nodes: 2, processes_per_node: 4, rendezvous: 'h0:29500'}\n"
ONE_NODE = "compute: {engine: torchrun, processes_per_node: 2}\n"


def _plan(tmp_path: Path, compute: str) -> Plan:
    from test_compiler_fixtures import CLASSIFICATION_SPEC

    spec = CLASSIFICATION_SPEC + compute + "train: {global_batch: 64}\n"
    return compile_project(tmp_path, spec, {"train.csv": classification_csv()}, hardware=GPU)


def test_each_node_runs_its_own_line_with_the_written_plan(tmp_path: Path) -> None:
    plan = _plan(tmp_path, TWO_NODES)
    argv = node_argv(plan, Path("/tmp/p.json"), node_rank=1, master=None)
    assert argv[argv.index("--node-rank") + 1] == "1"
    assert argv[argv.index("--master-addr") + 1 :][:3] == ["h0", "--master-port", "29500"]
    assert argv[-3:] == ["-m", "etbuilder.cli.launch", "/tmp/p.json"]
    moved = node_argv(plan, Path("/tmp/p.json"), node_rank=0, master="10.0.0.5:1234")
    assert moved[moved.index("--master-addr") + 1 :][:3] == ["10.0.0.5", "--master-port", "1234"]
    with pytest.raises(RunError, match="HOST:PORT"):
        node_argv(plan, Path("p.json"), node_rank=0, master="10.0.0.5")


def test_a_node_rank_is_needed_and_must_exist(tmp_path: Path) -> None:
    plan = _plan(tmp_path, TWO_NODES)
    with pytest.raises(RunError, match="--node-rank R"):
        node_argv(plan, Path("p.json"), node_rank=None, master=None)
    with pytest.raises(RunError, match=r"outside 0\.\.1"):
        node_argv(plan, Path("p.json"), node_rank=2, master=None)


def test_one_node_meets_at_master_instead_of_standalone(tmp_path: Path) -> None:
    plan = _plan(tmp_path, ONE_NODE)
    assert "--standalone" in node_argv(plan, Path("p.json"), node_rank=None, master=None)
    argv = node_argv(plan, Path("p.json"), node_rank=None, master="127.0.0.1:29555")
    assert "--standalone" not in argv
    assert argv[argv.index("--master-addr") + 1 :][:3] == ["127.0.0.1", "--master-port", "29555"]
    assert argv[argv.index("--nnodes") + 1] == "1"


def test_plan_prints_the_batch_math_and_each_nodes_etb_run(tmp_path: Path) -> None:
    plan = _plan(tmp_path, TWO_NODES)
    assert batch_math(plan) == ("64 = 8 per process x 8 process(es) (2 nodes x 4) x accumulation 1")
    assert etb_run_lines(plan, "spec.yaml") == [
        f"node {r}: etb run spec.yaml --node-rank {r} --master h0:29500" for r in (0, 1)
    ]


def test_a_resumed_run_meets_where_the_spec_now_says(tmp_path: Path) -> None:
    """The saved plan keeps the address the run started on; `--resume` with a changed
    `compute.rendezvous` (a restarted cluster) joins the new one, for Ray and for torchrun."""
    from etbuilder.cli.run import resume_meeting_point

    saved = _plan(tmp_path / "ray", "compute: {engine: ray, rendezvous: 'h0:6379'}\n")
    assert saved.compute.address == "h0:6379"
    moved = saved.spec.model_copy(
        update={"compute": saved.spec.compute.model_copy(update={"rendezvous": "h1:6379"})}
    )
    plan, master = resume_meeting_point(saved, moved, None)
    assert plan.compute.address == "h1:6379" and master is None
    same, _ = resume_meeting_point(saved, saved.spec, None)
    assert same.compute.address == "h0:6379"

    nodes = _plan(tmp_path / "torchrun", TWO_NODES)
    moved = nodes.spec.model_copy(
        update={"compute": nodes.spec.compute.model_copy(update={"rendezvous": "h1:29500"})}
    )
    _, master = resume_meeting_point(nodes, moved, None)
    argv = node_argv(nodes, Path("p.json"), node_rank=1, master=master)
    assert argv[argv.index("--master-addr") + 1] == "h1"
    _, master = resume_meeting_point(nodes, moved, "h2:29500")
    assert master == "h2:29500", "--master wins"
