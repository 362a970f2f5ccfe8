"""The spec loader: valid specs, path resolution, interpolation, and files that are not specs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from etbuilder.errors import SpecError
from etbuilder.spec import Spec
from etbuilder.spec.loader import load_spec, load_spec_text
from etbuilder.spec.strategy import DaptStrategy, DistillStrategy, Strategy
from etbuilder.spec.task import Task
from tests.specs import VALID_SPECS

MINIMAL = """\
name: t
data:
  train: train.csv
task:
  type: classification
  text: text
  label: label
"""


def _tags(union: object) -> set[str]:
    members = get_args(get_args(union)[0])
    return {m.model_fields["type"].default for m in members}


@pytest.mark.parametrize("path", VALID_SPECS, ids=[p.stem for p in VALID_SPECS])
def test_valid_spec_loads(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, Spec)
    assert os.path.isabs(spec.data.train.path)
    assert ".." not in Path(spec.data.train.path).parts


def test_valid_specs_cover_every_task_and_strategy() -> None:
    specs = [load_spec(p) for p in VALID_SPECS]
    assert {s.task.type for s in specs} == _tags(Task)
    strategies = {s.strategy.type for s in specs}
    strategies |= {s.strategy.then.type for s in specs if isinstance(s.strategy, DaptStrategy)}
    assert strategies == _tags(Strategy)


def test_valid_spec_points_at_shared_data(repo_root: Path) -> None:
    spec = load_spec(repo_root / "tests/specs/valid/classification-finetune.yaml")
    expected = (repo_root / "../shared/data/sms_spam/SMSSpamCollection").resolve()
    assert Path(spec.data.train.path).resolve() == expected  # shared/ may be a symlink


def test_loader_never_reads_data_files(write_spec) -> None:
    path = write_spec(MINIMAL.replace("train.csv", "no/such/file.csv"))
    spec = load_spec(path)
    assert spec.data.train.path == str(path.parent / "no/such/file.csv")


def test_relative_paths_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: t
        data:
          train: data/train.csv
          validation: {path: ../dev.csv, header: false}
          test: /abs/test.csv
        task: {type: classification, text: text, label: label}
        strategy:
          type: dapt
          corpus: corpus.txt
          then: {type: distill, teacher: runs/teacher}
        """
    )
    spec = load_spec_text(text, file="s.yaml", base_dir=tmp_path / "specs")
    assert spec.data.train.path == str(tmp_path / "specs/data/train.csv")
    assert spec.data.validation is not None
    assert spec.data.validation.path == str(tmp_path / "dev.csv")
    assert spec.data.validation.header is False
    assert spec.data.test is not None and spec.data.test.path == "/abs/test.csv"
    assert isinstance(spec.strategy, DaptStrategy)
    assert spec.strategy.corpus == str(tmp_path / "specs/corpus.txt")
    assert isinstance(spec.strategy.then, DistillStrategy)
    assert spec.strategy.then.teacher == str(tmp_path / "specs/runs/teacher")


def test_base_dir_defaults_to_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_spec_text(MINIMAL).data.train.path == str(tmp_path / "train.csv")


def test_environment_interpolation() -> None:
    text = MINIMAL.replace("train.csv", "${DATA:-/data}/train.csv") + textwrap.dedent(
        """\
        description: costs $${PRICE} ${WHO}
        train:
          epochs: ${EPOCHS}
          learning_rate: ${LR:-1e-4}
          deterministic: ${DET:-true}
        """
    )
    spec = load_spec_text(text, env={"EPOCHS": "7", "WHO": "me"})
    assert spec.data.train.path == "/data/train.csv"
    assert spec.description == "costs ${PRICE} me"
    assert spec.train.epochs == 7
    assert spec.train.learning_rate == pytest.approx(1e-4)
    assert spec.train.deterministic is True
    spec = load_spec_text(text, env={"EPOCHS": "2", "WHO": "x", "DATA": "/mnt"})
    assert spec.data.train.path == "/mnt/train.csv"


def test_exponent_without_dot_is_a_float() -> None:
    spec = load_spec_text(MINIMAL + "train:\n  learning_rate: 5e-5\n")
    assert spec.train.learning_rate == pytest.approx(5e-5)


def test_merge_keys_are_not_duplicates() -> None:
    text = textwrap.dedent(
        """\
        name: t
        data:
          train: a.csv
          validation: &file {path: b.csv, header: false, quoting: false}
          test:
            <<: *file
            path: c.csv
        task: {type: classification, text: text, label: label}
        """
    )
    spec = load_spec_text(text, file="s.yaml", base_dir="/d")
    assert spec.data.test is not None
    assert (spec.data.test.path, spec.data.test.header) == ("/d/c.csv", False)


def test_distill_teacher_cannot_be_the_spec_itself(write_spec) -> None:
    path = write_spec(MINIMAL + "strategy:\n  type: distill\n  teacher: ./spec.yaml\n")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    (problem,) = raised.value.problems
    assert (problem.path, problem.line) == ("strategy.teacher", 10)
    assert "the teacher is this spec itself" in problem.message


def test_unsafe_yaml_tags_are_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = MINIMAL + f'description: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(SpecError) as raised:
        load_spec_text(text, file="s.yaml")
    (problem,) = raised.value.problems
    assert (problem.path, problem.line) == ("description", 8)
    assert "unsupported YAML value" in problem.message
    assert not marker.exists()


def test_recursive_alias_is_a_problem() -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_text(MINIMAL + "description: &a [*a]\n", file="s.yaml")
    assert any("refers to itself" in p.message for p in raised.value.problems)


def _one_line(error: SpecError) -> str:
    assert len(error.problems) == 1
    return error.problems[0].render()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "s.yaml: the spec is empty"),
        ("# only a comment\n", "s.yaml: the spec is empty"),
        ("- a\n- b\n", "s.yaml:1:1: the spec must be a mapping of sections"),
        ("just text\n", "s.yaml:1:1: the spec must be a mapping of sections"),
        ("name: a\n---\nname: b\n", "s.yaml:2:1: not valid YAML: expected a single document"),
        ("name: [a\n", "s.yaml:2:1: not valid YAML"),
        ("etb: 9\n" + MINIMAL, "s.yaml:1:6: etb: spec version 9 is newer than this etbuilder"),
        ("etb: one\n" + MINIMAL, "s.yaml:1:6: etb: 'one' is not a spec version"),
    ],
)
def test_text_that_is_not_a_spec_gives_one_clear_line(content: str, expected: str) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_text(content, file="s.yaml")
    assert _one_line(raised.value).startswith(expected)


def test_missing_file_suggests_a_neighbour(write_spec) -> None:
    path = write_spec(MINIMAL, "spec.yaml")
    with pytest.raises(SpecError) as raised:
        load_spec(path.parent / "spce.yaml")
    assert _one_line(raised.value) == (
        f"{path.parent / 'spce.yaml'}: no such file\n    hint: did you mean 'spec.yaml'?"
    )


def test_folder_is_not_a_spec(write_spec) -> None:
    path = write_spec(MINIMAL, "app/spec.yaml")
    with pytest.raises(SpecError) as raised:
        load_spec(path.parent)
    assert "is a folder, not a spec file" in _one_line(raised.value)
    assert f"did you mean {path}?" in _one_line(raised.value)


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(SpecError) as raised:
        load_spec(binary)
    assert "binary file, not a YAML spec" in _one_line(raised.value)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError) as raised:
        load_spec(latin)
    assert "not UTF-8 text (byte 0xe9 at offset 9)" in _one_line(raised.value)


def test_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.replace("\n", "\r\n").encode())
    assert load_spec(path).name == "t"


def test_problem_lines_survive_crlf(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes((MINIMAL + "train:\n  epochs: x\n").replace("\n", "\r\n").encode())
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    (problem,) = raised.value.problems
    assert (problem.line, problem.column) == (9, 11)
