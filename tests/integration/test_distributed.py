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

import contextlib
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
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return out


def _one_process(project: Path, name: str, overrides: list[str]) -> Path:
    """The spec with `overrides` in one process, dense AdamW, into `project/name`."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    single = ["compute.engine=local", "compute.processes_per_node=1", *overrides]
    spec = load_spec(project / "spec.yaml", single)
    plan = compile_spec(spec, spec_path=project / "spec.yaml")
    assert plan.compute.world_size == 1
    assert plan.compute.sparse_embeddings, "one CPU process uses lazy embedding rows by default"
    # Lazy AdamW is a different optimizer from DDP's dense AdamW: compare like with like.
    plan = plan.model_copy(
        update={"compute": plan.compute.model_copy(update={"sparse_embeddings": False})}
    )
    (project / f"{name}.json").write_text(plan.to_json(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.launch", f"{name}.json", "--output", name, "--quiet"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return project / name


@pytest.fixture(scope="module")
def single_run(project: Path) -> Path:
    """The same spec in one process (accumulating 2 micro-batches of 8), dense AdamW."""
    out = _one_process(project, "single", [])
    plan = json.loads((out / "plan.json").read_text())
    assert (plan["schedule"]["batch_size"], plan["schedule"]["accumulation"]) == (8, 2)
    return out


def test_ddp_trains_the_same_weights_as_one_process(
    project: Path, ddp_run: Path, single_run: Path
) -> None:
    plan = json.loads((single_run / "plan.json").read_text())
    ddp_plan = json.loads((ddp_run / "plan.json").read_text())
    assert ddp_plan["schedule"]["global_batch"] == plan["schedule"]["global_batch"] == 16
    assert ddp_plan["compute"]["world_size"] == 2
    assert (ddp_plan["schedule"]["batch_size"], ddp_plan["schedule"]["accumulation"]) == (8, 1)
    single_metrics = json.loads((single_run / "metrics.json").read_text())
    ddp_metrics = json.loads((ddp_run / "metrics.json").read_text())
    assert single_metrics["steps"] == ddp_metrics["steps"] == 3 * 128 // 16
    initial = _weights_of_model_folder(Path(plan["backbone"]["path"]))
    trained = _weights(ddp_run)
    moved = _max_difference({k: trained[f"bert.{k}"] for k in initial}, initial)
    assert moved > 1e-3, "training changed the weights (else equality proves nothing)"
    assert _max_difference(_weights(single_run), trained) < 1e-5
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


def _kill_rank_one(project: Path, out: Path, *extra: str) -> tuple[int, float, str]:
    """Start `etb run` (with `extra` options), SIGKILL rank 1 once a checkpoint exists; the
    job's exit code, seconds from the kill to its end, and its stderr."""
    job = subprocess.Popen(
        [*ETB, "run", "spec.yaml", *extra, "--output", str(out), "--quiet"],
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
    assert job.returncode is not None
    return job.returncode, stopped_after, err.decode()


def _resume(project: Path, out: Path, *extra: str) -> None:
    """`etb run --resume` (same `extra` options) finishes the run."""
    done = subprocess.run(
        [*ETB, "run", "spec.yaml", *extra, "--resume", "--output", str(out), "--quiet"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert json.loads((out / "run.json").read_text())["state"] == "finished"


def test_a_killed_rank_stops_the_job_and_the_run_resumes(project: Path, ddp_run: Path) -> None:
    out = project / "killed"
    code, stopped_after, message = _kill_rank_one(project, out)
    assert code != 0
    assert stopped_after < 60
    assert "rank: 1" in message and "Signal 9" in message, message[-3000:]
    assert "--resume" in message, "says how to continue"
    assert json.loads((out / "run.json").read_text())["state"] != "finished"

    _resume(project, out)
    assert _test_metrics(out) == pytest.approx(_test_metrics(ddp_run), abs=1e-6)
    assert _max_difference(_weights(out), _weights(ddp_run)) < 1e-5


def _nodes(
    project: Path, out: Path, *extra: str, per_node: int = 1
) -> list[subprocess.Popen[bytes]]:
    """Node 0 and node 1 of a 2-node job on loopback, each its own `etb run` and torchrun."""
    master = f"127.0.0.1:{_free_port()}"
    layout = ["--set", "compute.nodes=2", "--set", f"compute.processes_per_node={per_node}"]
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
    """Every node's stderr; a node still running after `timeout` s fails the test with all of
    them (the one that stopped first usually says why the other waits)."""
    deadline = time.monotonic() + timeout
    errors: list[str] = []
    try:
        for node in nodes:
            left = max(1.0, deadline - time.monotonic())
            errors.append(node.communicate(timeout=left)[1].decode())
    except subprocess.TimeoutExpired:
        for node in nodes:
            if node.poll() is None:
                node.kill()
        errors += [node.communicate()[1].decode() for node in nodes[len(errors) :]]
        raise AssertionError(
            f"a node ran past {timeout} s:\n" + "\n---\n".join(e[-2000:] for e in errors)
        ) from None
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    return errors


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


FSDP_TOLERANCE = 1e-5
"""FSDP reduce-scatters gradient shards where DDP all-reduces whole buckets. With two processes
each gradient element is a sum of two terms, which fp32 rounds the same in either order: the
measured gap to one process was 0.0 here. With more processes the summation order, hence the
last bits, may differ; 1e-5 is the bound the DDP test uses."""


@pytest.fixture(scope="module")
def fsdp_run(project: Path) -> Path:
    """The spec with `parallelism: fsdp`: torchrun starts 2 gloo processes sharding the model."""
    out = project / "fsdp"
    done = subprocess.run(
        [
            *ETB,
            "run",
            "spec.yaml",
            "--set",
            "compute.parallelism=fsdp",
            "--output",
            str(out),
            "--quiet",
        ],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return out


def _package(run_dir: Path, project: Path) -> set[str]:
    """`etb package RUN` (fp32: the layout must not hang on the int8 gate's choice); the app's
    file names relative to its folder."""
    done = subprocess.run(
        [*ETB, "package", str(run_dir), "--quantization", "none"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    app = run_dir / "app"
    return {str(p.relative_to(app)) for p in app.rglob("*")}


def test_fsdp_trains_the_same_weights_as_one_process_and_packages(
    project: Path, fsdp_run: Path, single_run: Path, ddp_run: Path
) -> None:
    plan = json.loads((fsdp_run / "plan.json").read_text())
    assert plan["compute"]["parallelism"] == "fsdp" and plan["compute"]["sharding"] == "full"
    assert plan["compute"]["world_size"] == 2
    assert (plan["schedule"]["batch_size"], plan["schedule"]["accumulation"]) == (8, 1)
    metrics = json.loads((fsdp_run / "metrics.json").read_text())
    shards = metrics["fsdp"]
    assert shards["sharding"] == "full"
    assert shards["parameters_on_rank0"] <= shards["parameters"] // 2 + 1024, "sharded in two"
    assert metrics["steps"] == json.loads((single_run / "metrics.json").read_text())["steps"]
    gap = _max_difference(_weights(single_run), _weights(fsdp_run))
    assert gap < FSDP_TOLERANCE, gap
    # the checkpoint is the full state in the usual files: the same layout as a DDP run
    assert _layout(fsdp_run) == _layout(ddp_run)
    assert _package(fsdp_run, project) == _package(single_run, project)


def test_fsdp_killed_rank_resumes_to_the_same_model(project: Path, fsdp_run: Path) -> None:
    out = project / "fsdp-killed"
    fsdp = ("--set", "compute.parallelism=fsdp")
    code, _, _ = _kill_rank_one(project, out, *fsdp)
    assert code != 0
    _resume(project, out, *fsdp)
    assert _test_metrics(out) == pytest.approx(_test_metrics(fsdp_run), abs=1e-6)
    assert _max_difference(_weights(out), _weights(fsdp_run)) < FSDP_TOLERANCE


def test_a_hung_rank_fails_the_job_naming_it(project: Path, ddp_run: Path) -> None:
    """Rank 1 stays alive but stops taking part before step 3 (the test hook sleeps): rank 0
    gives up after the plan's collective timeout (10 s here) and names rank 1."""
    from etbuilder.runtime.watch import HANG_ENV

    out = project / "hung"
    job = subprocess.Popen(
        [
            *ETB,
            "run",
            "spec.yaml",
            "--set",
            "compute.collective_timeout=10s",
            "--output",
            str(out),
            "--quiet",
        ],
        cwd=project,
        env=_env(project) | {HANG_ENV: "1:3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not list((out / "checkpoints").glob("step-*")):  # step 2: both ranks were there
            assert job.poll() is None, job.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
        reached = time.monotonic()
        _, err = job.communicate(timeout=120)
        stopped_after = time.monotonic() - reached
    finally:
        if job.poll() is None:
            job.kill()
    message = err.decode()
    assert job.returncode not in (0, None), message[-3000:]
    print(f"hung rank: the job stopped {stopped_after:.1f} s after the last checkpoint")
    assert stopped_after < 60, "bounded by the 10 s timeout, not torch's 30 min"
    assert "rank 0 waited 10 s in a collective" in message, message[-3000:]
    assert "rank 1 (last step started: 2) stopped answering" in message, message[-3000:]
    assert json.loads((out / "run.json").read_text())["state"] != "finished"


def test_ddp_equals_one_process_when_the_batches_do_not_divide(
    project: Path, tmp_path: Path
) -> None:
    """131 rows: 16 batches of 8 and one of 3, 17 batches for steps of 2: the last step of each
    epoch has one batch, so rank 1 runs a stand-in weighted 0 and rank 0 weights its batch 2
    (DDP halves it back). Every example counts once per epoch, as in one process."""
    import shutil

    odd = tmp_path / "odd"
    odd.mkdir()
    for name in ("dev.tsv", "test.tsv", "spec.yaml"):
        shutil.copyfile(project / name, odd / name)
    lines = (project / "train.tsv").read_text(encoding="utf-8").splitlines()
    extra = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[193:196]
    (odd / "train.tsv").write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    env = _env(project)
    two = ["--set", "train.epochs=2"]
    done = subprocess.run(
        [*ETB, "run", "spec.yaml", *two, "--output", "ddp", "--quiet"],
        cwd=odd,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    _one_process(odd, "single", ["train.epochs=2"])
    ddp, single = (json.loads((odd / r / "metrics.json").read_text()) for r in ("ddp", "single"))
    assert ddp["steps"] == single["steps"] == 2 * 9
    assert _max_difference(_weights(odd / "single"), _weights(odd / "ddp")) < 1e-5
    state = json.loads(
        (max((odd / "ddp" / "checkpoints").glob("step-*")) / "state.json").read_text()
    )
    assert state["train"]["samples"] == 2 * 131, "every example once per epoch"


HYBRID_TOLERANCE = 1e-3
"""With 4 processes a gradient element is a 4-term fp32 sum, added as (a+b)+(c+d) by the shard
and replica reductions but ((a+b)+c)+d by one process accumulating: a last-bit difference that
24 AdamW steps at lr 2e-3 grew to 4.1e-4 in the measured run. The test also requires the gap to
be a small fraction of the gap to a differently batched run of the same spec, so a replica that
trained on its own (no cross-node reduction) or on other batches would fail it."""


def test_hybrid_fsdp_on_two_nodes_equals_one_process(project: Path, ddp_run: Path) -> None:
    """2 nodes x 2 processes on loopback, `sharding: hybrid`: each node shards the model over
    its 2 processes and the nodes hold replicas. Global batch 16 = 4 per process x 4; one
    process accumulating 4 micro-batches of 4 sees the same batches in the same steps."""
    out = project / "hybrid"
    fsdp = ["--set", "compute.parallelism=fsdp", "--set", "compute.sharding=hybrid"]
    errors = _wait(_nodes(project, out, *fsdp, per_node=2), 400)
    assert json.loads((out / "run.json").read_text())["state"] == "finished", errors
    plan = json.loads((out / "plan.json").read_text())
    assert plan["compute"]["sharding"] == "hybrid" and plan["compute"]["world_size"] == 4
    assert (plan["schedule"]["batch_size"], plan["schedule"]["accumulation"]) == (4, 1)
    shards = json.loads((out / "metrics.json").read_text())["fsdp"]
    assert shards["parameters_on_rank0"] <= shards["parameters"] // 2 + 1024, "2 shards a node"
    assert shards["parameters_on_rank0"] > shards["parameters"] // 4, "not 4: replicated"

    single = _one_process(project, "single-b4", ["train.batch_size=4"])
    single_plan = json.loads((single / "plan.json").read_text())
    assert (single_plan["schedule"]["batch_size"], single_plan["schedule"]["accumulation"]) == (
        4,
        4,
    )
    gap = _max_difference(_weights(single), _weights(out))
    other_batches = _max_difference(_weights(single), _weights(ddp_run))  # batches of 8
    print(f"hybrid vs one process: {gap:.3g}; one process vs batches of 8: {other_batches:.3g}")
    assert gap < HYBRID_TOLERANCE, gap
    assert gap < 0.1 * other_batches, (gap, other_batches)


RAY_HELPERS = (b"ray::IDLE", b"ray::_AutoscalingCoordinatorActor", b"ray::PlacementGroupCleaner")
"""Ray processes that outlive a driver by design (idle pool, Ray Train's cluster helpers)."""


def _ray_workers(project: Path) -> list[int]:
    """Ray worker processes training for this project (they carry its ETB_CACHE_DIR)."""
    mark = f"ETB_CACHE_DIR={project / 'cache'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            name = command.split(b"\0", 1)[0]
            busy = name.startswith(b"ray::") and name not in RAY_HELPERS
            if busy and mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _started_at(pid: int) -> str | None:
    """The start time of process `pid` (tells it apart from a later process with its id)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Any:
    """A real local Ray cluster (`ray start --head --block`), stopped after the test by the
    ids of the processes it started (never `ray stop`, which ends every cluster here)."""
    import shutil
    import tempfile

    pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (make setup)")
    ray = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="etb-ray-", dir="/tmp"))  # Ray's socket paths are short
    # Ray 2.5x asks a driver that names the address for a token: this cluster's own
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(16).hex()}
    with open(tmp_path / "ray-head.log", "wb") as log:
        head = subprocess.Popen(
            [ray, "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
             "--include-dashboard", "false", "--object-store-memory", str(100 * 2**20),
             "--temp-dir", str(temp)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ) | token,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert head.poll() is None, (tmp_path / "ray-head.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Ray did not start within 180 s"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", token
    finally:
        started = {pid: _started_at(pid) for pid in [head.pid, *_descendants(head.pid)]}
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        time.sleep(2)
        for pid, when in started.items():
            if when is not None and _started_at(pid) == when:  # the same process, still there
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_joins_a_cluster_by_address_and_resumes(
    project: Path, ddp_run: Path, ray_cluster: tuple[str, dict[str, str]]
) -> None:
    """`compute.rendezvous` points at a running Ray cluster; the driver is killed after the
    first checkpoint (Ray then stops its workers); `--resume` finishes the same model."""
    address, token = ray_cluster
    env = _env(project) | token
    out = project / "ray-cluster"
    argv = [*ETB, "run", "spec.yaml", "--set", "compute.engine=ray", "--set",
            f"compute.rendezvous={address}", "--output", str(out), "--quiet"]  # fmt: skip
    driver = subprocess.Popen(
        argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while not list((out / "checkpoints").glob("step-*")):
            assert driver.poll() is None, driver.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.05)
        driver.kill()
        driver.communicate(timeout=60)
        killed_at = time.monotonic()
        while _ray_workers(project):  # Ray stops the workers of a driver that died
            left = [Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in _ray_workers(project)]
            assert time.monotonic() < killed_at + 120, f"Ray kept the workers: {left}"
            time.sleep(0.2)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert json.loads((out / "run.json").read_text())["state"] != "finished"
    plan = json.loads((out / "plan.json").read_text())
    assert plan["compute"]["address"] == address
    done = subprocess.run(
        [*argv, "--resume"],
        cwd=project,
        env=env,
        capture_output=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert json.loads((out / "run.json").read_text())["state"] == "finished"
    assert _max_difference(_weights(out), _weights(ddp_run)) < 1e-5
    assert _test_metrics(out) == pytest.approx(_test_metrics(ddp_run), abs=1e-6)


def test_a_time_budget_stops_every_rank_at_the_same_step(project: Path, tmp_path: Path) -> None:
    """Each process checks the clock on its own; the processes agree before stopping, so none
    goes on to a step the others never join."""
    out = tmp_path / "budget"
    done = subprocess.run(
        [
            *ETB,
            "run",
            "spec.yaml",
            "--set",
            "train.time_budget=2s",
            "--set",
            "train.epochs=200",  # 1,600 steps: far more than 2 s on any machine
            "--set",
            "compute.collective_timeout=60s",
            "--output",
            str(out),
            "--quiet",
        ],
        cwd=project,
        env=_env(project),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "time_budget", metrics.get("stopped")
    planned = json.loads((out / "plan.json").read_text())["schedule"]["total_steps"]
    assert 0 < metrics["steps"] < planned


def test_fsdp_with_lora_trains_the_same_adapters_as_ddp(project: Path, tmp_path: Path) -> None:
    """LoRA under FSDP: frozen base weights and trainable adapters share each layer's shard;
    the merged model equals a DDP LoRA run's (2 processes: the same sums)."""
    runs = {}
    for parallelism in ("ddp", "fsdp"):
        out = tmp_path / parallelism
        done = subprocess.run(
            [*ETB, "run", "spec.yaml", "--set", "strategy.type=lora", "--set", "train.epochs=1",
             "--set", f"compute.parallelism={parallelism}", "--output", str(out), "--quiet"],
            cwd=project,
            env=_env(project),
            capture_output=True,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        runs[parallelism] = out
    assert json.loads((runs["fsdp"] / "plan.json").read_text())["strategy"]["type"] == "lora"
    assert "fsdp" in json.loads((runs["fsdp"] / "metrics.json").read_text())
    assert _max_difference(_weights(runs["ddp"]), _weights(runs["fsdp"])) < FSDP_TOLERANCE
    assert _test_metrics(runs["fsdp"]) == pytest.approx(_test_metrics(runs["ddp"]), abs=1e-6)
