"""Distributed training with real processes on CPU (gloo): DDP trains the same model as one
process, a killed rank stops the job fast and the run resumes, two torchrun launches on loopback
form one job (and stop together when one loses a process), and Ray Train runs the same training
into the same run-folder layout.

One spec for all: 128 training rows, `global_batch: 16` with at most 8 per process (the compiler
makes it 2 processes x 8, or one process accumulating 2 micro-batches of 8), so every optimizer
step sees the same 16 examples in every layout. The tiny model has no dropout: each process
draws its own dropout masks, so with dropout two layouts are equal in distribution only, not in
weights.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import make_tiny_bert

DATA = Path("/work/shared/data")
if not DATA.is_dir():
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found"),
]

REPO = Path(__file__).resolve().parents[2]
ETB = [sys.executable, "-m", "etbuilder.cli.main"]

SPEC = """etb: 1
name: dist
data: {{train: train.tsv, validation: dev.tsv, test: test.tsv, quoting: false}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}}}
train: {{epochs: 3, batch_size: 8, global_batch: 16, learning_rate: 2.0e-3, checkpoint_every: 2}}
compute: {{engine: torchrun, processes_per_node: 2, threads: 1}}
deploy: {{package: false}}
"""


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, ETB_CACHE_DIR=str(root / "cache"), PYTHONPATH=str(REPO))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        env.pop(key, None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _weights(run_dir: Path) -> dict[str, Any]:
    """The final weights: the last checkpoint's model."""
    from safetensors.torch import load_file

    last = max((run_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    return load_file(str(last / "model.safetensors"))


def _max_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _layout(run_dir: Path) -> set[str]:
    """File and folder names of a run folder, checkpoints by kind rather than by step."""
    names = {p.name for p in run_dir.iterdir()}
    steps = [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith("step-")]
    names |= {f"checkpoints/step-N/{f.name}" for f in steps[0].iterdir()}
    return names


def _test_metrics(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics["test"].items() if isinstance(v, float)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    model = make_tiny_bert(root / "tiny", dropout=0.0)
    lines = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    for name, part in (("train", rows[:128]), ("dev", rows[128:160]), ("test", rows[160:192])):
        (root / f"{name}.tsv").write_text("\n".join([header, *part]) + "\n", encoding="utf-8")
    (root / "spec.yaml").write_text(SPEC.format(model=model), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ddp_run(project: Path) -> Path:
    """`etb run` on the torchrun plan: torchrun starts 2 gloo processes on this machine."""
    out = project / "ddp"
    done = subprocess.run(
        [*ETB, "run", "spec.yaml", "--output", str(out), "--quiet"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return out


def test_ddp_trains_the_same_weights_as_one_process(project: Path, ddp_run: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    single = ["compute.engine=local", "compute.processes_per_node=1"]
    spec = load_spec(project / "spec.yaml", single)
    plan = compile_spec(spec, spec_path=project / "spec.yaml")
    assert plan.compute.world_size == 1
    assert (plan.schedule.batch_size, plan.schedule.accumulation) == (8, 2), "compiler-derived"
    assert plan.compute.sparse_embeddings, "one CPU process uses lazy embedding rows by default"
    # Lazy AdamW is a different optimizer from DDP's dense AdamW: compare like with like.
    plan = plan.model_copy(
        update={"compute": plan.compute.model_copy(update={"sparse_embeddings": False})}
    )
    (project / "single.json").write_text(plan.to_json(), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etbuilder.cli.launch",
            "single.json",
            "--output",
            "single",
            "--quiet",
        ],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]

    ddp_plan = json.loads((ddp_run / "plan.json").read_text())
    assert ddp_plan["schedule"]["global_batch"] == plan.schedule.global_batch == 16
    assert ddp_plan["compute"]["world_size"] == 2
    assert (ddp_plan["schedule"]["batch_size"], ddp_plan["schedule"]["accumulation"]) == (8, 1)
    single_metrics = json.loads((project / "single" / "metrics.json").read_text())
    ddp_metrics = json.loads((ddp_run / "metrics.json").read_text())
    assert single_metrics["steps"] == ddp_metrics["steps"] == 3 * 128 // 16
    initial = _weights_of_model_folder(Path(plan.backbone.path))
    trained = _weights(ddp_run)
    moved = _max_difference({k: trained[f"bert.{k}"] for k in initial}, initial)
    assert moved > 1e-3, "training changed the weights (else equality proves nothing)"
    assert _max_difference(_weights(project / "single"), trained) < 1e-5
    # only rank 0 wrote: one line per record, both ranks' RNG states in the checkpoint
    lines = (ddp_run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines))
    last = max((ddp_run / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    assert {p.name for p in last.glob("rng-*.pt")} == {"rng-0.pt", "rng-1.pt"}


def _weights_of_model_folder(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rank_pid(root: int, rank: int, *, local_rank: int | None = None) -> int | None:
    """The process of global `rank` among `root`'s descendants (read from its environment)."""
    local = rank if local_rank is None else local_rank
    for pid in _descendants(root):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and f"LOCAL_RANK={local}".encode() in environ:
            return pid
    return None


def test_a_killed_rank_stops_the_job_and_the_run_resumes(project: Path, ddp_run: Path) -> None:
    out = project / "killed"
    job = subprocess.Popen(
        [*ETB, "run", "spec.yaml", "--output", str(out), "--quiet"],
        cwd=project,
        env=_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not list((out / "checkpoints").glob("step-*")):
            assert job.poll() is None, job.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
        victim = _rank_pid(job.pid, 1)
        assert victim is not None, "rank 1 not found among the job's processes"
        os.kill(victim, signal.SIGSTOP)  # freeze it first: the job cannot finish meanwhile
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = job.communicate(timeout=60)
        stopped_after = time.monotonic() - killed_at
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode not in (0, None)
    assert stopped_after < 60
    message = err.decode()
    assert "rank: 1" in message and "Signal 9" in message, message[-3000:]
    assert "--resume" in message, "says how to continue"
    assert json.loads((out / "run.json").read_text())["state"] != "finished"

    done = subprocess.run(
        [*ETB, "run", "spec.yaml", "--resume", "--output", str(out), "--quiet"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert json.loads((out / "run.json").read_text())["state"] == "finished"
    assert _test_metrics(out) == pytest.approx(_test_metrics(ddp_run), abs=1e-6)
    assert _max_difference(_weights(out), _weights(ddp_run)) < 1e-5


def _nodes(project: Path, out: Path, *extra: str) -> list[subprocess.Popen[bytes]]:
    """Node 0 and node 1 of a 2-node job on loopback, each its own `etb run` and torchrun."""
    master = f"127.0.0.1:{_free_port()}"
    layout = ["--set", "compute.nodes=2", "--set", "compute.processes_per_node=1"]
    return [
        subprocess.Popen(
            [
                *ETB,
                "run",
                "spec.yaml",
                *layout,
                *extra,
                "--node-rank",
                str(rank),
                "--master",
                master,
                "--quiet",
                *(["--output", str(out)] if rank == 0 else []),
            ],
            cwd=project,
            env=_env(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for rank in (0, 1)
    ]


def _wait(nodes: list[subprocess.Popen[bytes]], timeout: float) -> list[str]:
    try:
        return [node.communicate(timeout=timeout)[1].decode() for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()


def test_two_nodes_on_loopback_lose_a_rank_then_resume(project: Path, ddp_run: Path) -> None:
    """Two torchrun launches form one job; node 1's process dies; both nodes stop, naming
    it; both resume and finish the model one node with two processes trains."""
    out = project / "two-nodes"
    nodes = _nodes(project, out)
    try:
        deadline = time.monotonic() + 240
        while not list((out / "checkpoints").glob("step-*")):
            assert all(n.poll() is None for n in nodes), _wait(nodes, 10)
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
        victim = _rank_pid(nodes[1].pid, 1, local_rank=0)
        assert victim is not None, "rank 1 not found among node 1's processes"
        os.kill(victim, signal.SIGSTOP)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        errors = _wait(nodes, 60)
        stopped_after = time.monotonic() - killed_at
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    assert stopped_after < 60
    assert [n.returncode != 0 for n in nodes] == [True, True]
    assert "rank      : 1" in errors[1] and "SIGKILL" in errors[1], errors[1][-3000:]
    assert "rank 0 lost contact with the other processes" in errors[0], errors[0][-3000:]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["compute"]["nodes"] == 2 and plan["compute"]["world_size"] == 2
    assert not (project / "runs").exists(), "node 1 wrote no run folder of its own"

    errors = _wait(_nodes(project, out, "--resume"), 300)
    assert json.loads((out / "run.json").read_text())["state"] == "finished", errors
    # 2 nodes x 1 process is the same world, data order and global batch as 1 node x 2
    assert _test_metrics(out) == pytest.approx(_test_metrics(ddp_run), abs=1e-6)
    assert _max_difference(_weights(out), _weights(ddp_run)) < 1e-5


def test_ray_train_with_two_cpu_workers(project: Path, ddp_run: Path) -> None:
    pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (make setup)")
    out = project / "ray"
    done = subprocess.run(
        [*ETB, "run", "spec.yaml", "--set", "compute.engine=ray", "--output", str(out), "--quiet"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert f"run folder: {out}" in done.stdout.decode()
    assert json.loads((out / "run.json").read_text())["state"] == "finished"
    assert _layout(out) == _layout(ddp_run)
    last = max((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    assert {p.name for p in last.glob("rng-*.pt")} == {"rng-0.pt", "rng-1.pt"}
    # the same training function in the same 2-process layout: the same model
    assert _max_difference(_weights(out), _weights(ddp_run)) < 1e-5
