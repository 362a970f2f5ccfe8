"""`etb run` killed with SIGKILL mid-run, then `--resume`d, ends with the metrics of a run that
was never interrupted (same seed): data order, dropout RNG, optimizer and schedule all resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert

DATA = Path("/work/shared/data")
if not DATA.is_dir():
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found"),
]

SPEC = """etb: 1
name: resume-check
data: {{train: {data}, quoting: false, split: {{validation: 0.15, test: 0.15, seed: 3}}}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}}}
train:
  epochs: 3
  batch_size: 8
  learning_rate: 2.0e-3
  seed: 11
  checkpoint_every: 4
  eval_every: 10
compute: {{threads: 1}}
deploy: {{package: false}}
"""


def etb(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = "import sys; from etbuilder.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (out.decode(), err.decode())


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    model = make_tiny_bert(tmp_path / "tiny")
    rows = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[:301]
    data = tmp_path / "train.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(data=data, model=model), encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, ETB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(root))
    return spec, env


def test_resume_after_sigkill_matches_an_uninterrupted_run(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    spec, env = setup
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    finish(etb("run", str(spec), "--output", str(straight), "--quiet", env=env))

    proc = etb("run", str(spec), "--output", str(resumed), "--quiet", env=env)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        done = sorted((resumed / "checkpoints").glob("step-*"))
        if done and int(done[-1].name.split("-")[1]) >= 8:  # past the first checkpoints
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = json.loads((resumed / "run.json").read_text())
    assert status["state"] == "running"  # what a killed run leaves behind
    assert not (resumed / "metrics.json").exists()

    finish(etb("run", str(spec), "--resume", "--output", str(resumed), "--quiet", env=env))

    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((resumed / "metrics.json").read_text())
    assert b["steps"] == a["steps"]
    assert b["best_step"] == a["best_step"]
    assert b["test"] == a["test"]  # every metric, to the last decimal
    assert b["validation"] == a["validation"]
    assert json.loads((resumed / "run.json").read_text())["attempts"] == 2
    log = [json.loads(line) for line in (resumed / "metrics.jsonl").open()]
    evals = [r["step"] for r in log if r.get("kind") == "eval"]
    assert evals == sorted(set(evals))  # nothing logged twice after the resume
    straight_losses = [
        r["loss"]
        for r in map(json.loads, (straight / "metrics.jsonl").open())
        if r.get("kind") == "train"
    ]
    resumed_losses = [r["loss"] for r in log if r.get("kind") == "train"]
    assert resumed_losses == straight_losses


def test_resume_without_a_run_says_what_to_do(setup: tuple[Path, dict[str, str]]) -> None:
    spec, env = setup
    proc = etb("run", str(spec), "--resume", "--output", str(spec.parent / "none"), env=env)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "nothing to resume" in err.decode()


def test_sigterm_marks_the_run_interrupted(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    spec, env = setup
    out = tmp_path / "stopped"
    proc = etb("run", str(spec), "--output", str(out), "--quiet", env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if list((out / "checkpoints").glob("step-*")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads((out / "run.json").read_text())["state"] == "interrupted"
