"""The plan's torchrun command line trains with 2 CPU processes (gloo DDP) into one run folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert

DATA = Path("/work/shared/data")
if not DATA.is_dir():
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

SPEC = """etb: 1
name: ddp-check
data: {{train: {data}, quoting: false, split: {{validation: 0.2, test: 0.2}}}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}}}
train: {{epochs: 2, batch_size: 8, learning_rate: 2.0e-3}}
compute: {{engine: torchrun, processes_per_node: 2, threads: 1}}
deploy: {{package: false}}
"""


def test_torchrun_two_processes(tmp_path: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec_text

    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.is_file() and shutil.which("torchrun") is None:
        pytest.skip("torchrun not installed")
    model = make_tiny_bert(tmp_path / "tiny")
    rows = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[:201]
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    plan = compile_spec(load_spec_text(SPEC.format(data=tmp_path / "train.tsv", model=model)))
    command = plan.compute.commands[0].argv
    assert command[:4] == ["torchrun", "--standalone", "--nproc-per-node", "2"]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json(), encoding="utf-8")
    argv = [str(torchrun), *command[1:-1], str(plan_file), "--output", "out", "--quiet"]
    env = dict(os.environ, ETB_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]

    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    train_rows = next(p.rows for p in plan.data.profiles if p.name == "train")
    steps = -(-((train_rows + 7) // 8) // 2)  # 2 batches a step, one per process; the last
    assert metrics["steps"] == 2 * steps  # step of an odd count holds one (nothing dropped)
    last = sorted((out / "checkpoints").glob("step-*"))[-1]
    assert {p.name for p in last.glob("rng-*.pt")} == {"rng-0.pt", "rng-1.pt"}
    assert json.loads((out / "run.json").read_text())["state"] == "finished"
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len({line for line in lines})  # one writer only
