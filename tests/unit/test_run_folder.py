"""`etb run --output`: only a missing path, an empty folder, or (with --resume) a run folder of
the same spec; anything else is refused before any work, naming what is there, untouched."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from etbuilder.cli.main import main
from etbuilder.runtime.checkpoint import clean_leftovers

SPEC = """\
name: folder-check
data: {train: no-such-train.csv}
task: {type: classification, text: text, label: label}
"""


def _user_files(root: Path) -> Path:
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.bin").write_bytes(b"\x00" * 64)
    (root / "report.md").write_text("my own notes\n", encoding="utf-8")
    return root


def _finished_run(root: Path, name: str = "folder-check") -> Path:
    root.mkdir(parents=True)
    (root / "plan.json").write_text(json.dumps({"spec": {"name": name}}), encoding="utf-8")
    (root / "run.json").write_text('{"state": "finished"}\n', encoding="utf-8")
    return root


def _file(root: Path) -> Path:
    root.write_text("a file of mine\n", encoding="utf-8")
    return root


def _under_a_file(root: Path) -> Path:
    _file(root)
    return root / "run"


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], Path]
    message: str
    resume: bool = False


CASES = [
    Case("user-files", _user_files, "is not empty (it holds: model/, report.md)"),
    Case("finished-run", _finished_run, "already holds a run; continue it with --resume"),
    Case("a-file", _file, "is a file, not a folder"),
    Case("under-a-file", _under_a_file, "is a file, not a folder"),
    Case("resume-user-files", _user_files, "not a run folder (no plan.json)", resume=True),
    Case("resume-missing", lambda p: p, "does not exist; run without --resume", resume=True),
    Case(
        "resume-other-spec",
        lambda p: _finished_run(p, "another-spec"),
        "holds a run of the spec 'another-spec', not 'folder-check'",
        resume=True,
    ),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    base = root if root.is_dir() else root.parent
    return {str(p): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_output_that_is_not_ours_is_refused_untouched(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    output = case.make(tmp_path / "out")
    before = _snapshot(tmp_path)
    args = ["run", str(spec), "--output", str(output), "--quiet"]
    assert main([*args, "--resume"] if case.resume else args) == 2
    err = capsys.readouterr().err
    assert case.message in err, err
    assert "internal error" not in err and "no-such-train" not in err  # refused before any work
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs a read-only /sys")
def test_an_output_that_cannot_be_written_gets_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["run", str(spec), "--output", "/sys/etb-run", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the run folder /sys/etb-run" in err and "internal error" not in err


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "empty"])
def test_missing_or_empty_output_is_accepted(
    exists: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    output = tmp_path / "out"
    if exists:
        output.mkdir()
    assert main(["run", str(spec), "--output", str(output), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no-such-train.csv" in err  # got past the folder check to the data
    # a folder this command created and never wrote into does not outlive it
    assert output.is_dir() == exists and (not exists or not any(output.iterdir()))


def test_resume_cleans_what_an_interrupted_write_or_delete_left(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    complete = root / "step-00000008"
    complete.mkdir(parents=True)
    (complete / "state.json").write_text("{}", encoding="utf-8")
    (complete / "model.safetensors").write_bytes(b"x")
    half_deleted = root / "step-00000004"  # state.json already gone when the kill came
    half_deleted.mkdir()
    (half_deleted / "optimizer.pt").write_bytes(b"x")
    (root / "best-00000002").mkdir()
    (root / ".tmp-step-00000012-999").mkdir()
    (root / ".tmp-deleting-step-00000000-999").mkdir()
    removed = clean_leftovers(root)
    assert sorted(removed) == sorted(
        [
            ".tmp-deleting-step-00000000-999",
            ".tmp-step-00000012-999",
            "best-00000002",
            "step-00000004",
        ]
    )
    assert [p.name for p in root.iterdir()] == ["step-00000008"]
    assert (complete / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_user_files, "is not empty and holds no app (it holds: model, report.md)"),
        (_file, "is a file, not a folder"),
        (
            lambda p: (p.mkdir(), p.with_name("out.tar.gz").write_bytes(b"mine"), p)[-1],
            "out.tar.gz exists and belongs to no app",
        ),
    ],
    ids=["user-files", "a-file", "user-archive"],
)
def test_package_output_that_is_not_an_app_is_refused_untouched(
    make: Callable[[Path], Path], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _finished_run(tmp_path / "run")
    (run / "model").mkdir()
    for name in ("config.json", "tokenizer.json"):
        (run / "model" / name).write_text("{}", encoding="utf-8")
    output = make(tmp_path / "out")
    before = _snapshot(tmp_path)
    assert main(["package", str(run), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert _snapshot(tmp_path) == before


def test_resume_refuses_a_spec_whose_values_changed_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from etbuilder.spec.loader import load_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + "train: {epochs: 2}\n", encoding="utf-8")
    run = tmp_path / "out"
    run.mkdir()
    saved = {"spec": load_spec(str(spec)).model_dump(mode="json")}
    (run / "plan.json").write_text(json.dumps(saved), encoding="utf-8")
    (run / "run.json").write_text('{"state": "interrupted"}\n', encoding="utf-8")
    before = _snapshot(tmp_path)
    args = ["run", str(spec), "--output", str(run), "--resume", "--quiet"]
    assert main([*args, "--set", "train.epochs=5", "--set", "train.seed=9"]) == 2
    err = capsys.readouterr().err
    assert "started from other values of 'folder-check'" in err, err
    assert "train.epochs: 2 -> 5" in err and "train.seed: " in err and "-> 9" in err
    assert _snapshot(tmp_path) == before
    # the same values (a changed description aside) get past the check
    assert main([*args, "--set", "description=renamed"]) != 0
    assert "started from other values" not in capsys.readouterr().err


def test_resume_takes_a_new_meeting_point_of_the_nodes() -> None:
    """node 0 may come back on another host or port: `--master` sets compute.rendezvous anew."""
    from etbuilder.report.rundir import spec_changes

    saved = {"compute": {"rendezvous": "10.0.0.1:29500", "nodes": 2}}
    moved = {"compute": {"rendezvous": "10.0.0.2:29511", "nodes": 2}}
    assert spec_changes(saved, moved) == []
    assert spec_changes(saved, {"compute": {"rendezvous": "10.0.0.1:29500", "nodes": 3}}) != []
