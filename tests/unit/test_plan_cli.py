"""`etb plan` on a tiny project: readable output, --json (stdout only), --set, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_compiler_fixtures import CLASSIFICATION_SPEC, classification_csv, write_project

from etbuilder.cli.main import main
from etbuilder.plan import Plan


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    return write_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv()})


def test_json_is_the_only_stdout(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(project), "--json", "--set", "train.epochs=5"]) == 0
    out = capsys.readouterr().out
    plan = Plan.from_json(out)
    assert plan.schedule.epochs == 5
    assert plan.spec.train.epochs == 5


def test_readable_summary(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(project)]) == 0
    out = capsys.readouterr().out
    for text in ("Data profile", "Decisions", "Estimates", "No warnings", "Commands", "etb run"):
        assert text in out
    assert "backbone.max_length" in out and "validation" in out


def test_bad_override_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(project), "--set", "train.epochs=many"]) == 2
    assert "train.epochs" in capsys.readouterr().err


def test_plan_does_not_import_torch(project: Path) -> None:
    code = (
        "import sys; from etbuilder.cli.main import main; rc = main(['plan', sys.argv[1], "
        "'--json']); assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    Plan.from_json(done.stdout)


def test_two_processes_give_identical_bytes(project: Path) -> None:
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "etbuilder.cli.main", "plan", str(project), "--json"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        for _ in range(2)
    ]  # fmt: skip
    assert outputs[0] == outputs[1] and outputs[0].startswith("{")


def test_groups_merge_alike_layers() -> None:
    from etbuilder.cli.plan import merged_groups
    from etbuilder.plan import FreezePlan, ParameterGroup

    groups = [ParameterGroup(name="embeddings", parameters=10, trainable=False)]
    groups += [
        ParameterGroup(name=f"encoder.layer.{i}", parameters=5, trainable=i >= 2) for i in range(4)
    ]
    groups.append(ParameterGroup(name="head", parameters=3, trainable=True))
    strategy = FreezePlan(
        groups=groups, trainable_parameters=13, actions=[], layers=2, embeddings=True
    )
    assert merged_groups(strategy) == [
        ("embeddings", 10, False, 1.0),
        ("encoder.layer.0-1", 10, False, 1.0),
        ("encoder.layer.2-3", 10, True, 1.0),
        ("head", 3, True, 1.0),
    ]
