"""`etb plan` on the real SST-2 files with the offline default backbone, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from etbuilder.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "specs" / "plan" / "sst2.yaml"
DATA = (SPEC.parent / "../../../../shared/data/sst2_glue").resolve()

pytestmark = pytest.mark.skipif(not (DATA / "train.tsv").is_file(), reason="no shared data")
ENV = {**os.environ, "ETB_CACHE_DIR": str(ROOT / ".pytest_cache" / "etb-plan-cache")}
"""No throughput recorded by other runs on this machine changes the estimates between runs."""


def _etb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=ENV,
    )


def test_json_plan_is_stable_across_processes_and_parses_back() -> None:
    first, second = _etb("plan", str(SPEC), "--json"), _etb("plan", str(SPEC), "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    plan = Plan.from_json(first.stdout)
    assert plan.to_json() == first.stdout
    train, validation, test = plan.data.profiles
    assert (train.rows, validation.rows, test.rows) == (60_614, 6_735, 872)
    assert train.label_counts == {"0": 26_786, "1": 33_828}
    assert plan.backbone.name == "minilm-l6" and plan.backbone.layers == 6
    assert 32 <= plan.task.max_length <= 128 and plan.task.max_length % 8 == 0
    sample = next(d for d in plan.decisions if d.key == "data.length_sample.train")
    assert sample.value == 20_000  # large files: a deterministic sample is tokenized
    assert plan.schedule.steps_per_epoch == -(-60_614 // 32)


def test_readable_plan_without_torch() -> None:
    code = (
        "import sys; from etbuilder.cli.main import main; rc = main(['plan', sys.argv[1]]); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr); "
        "sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SPEC)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "NO-TORCH" in done.stderr
    for section in ("Data profile", "Decisions", "Estimates", "Commands", "backbone.max_length"):
        assert section in done.stdout
    assert "etb run" in done.stdout and "60,614" in done.stdout
