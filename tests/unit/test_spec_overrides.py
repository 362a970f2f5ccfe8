"""`--set KEY=VALUE` overrides: paths checked against the models, values typed by the schema."""

from __future__ import annotations

import pytest

from etbuilder.errors import SpecError
from etbuilder.spec.loader import load_spec_text
from etbuilder.spec.overrides import parse_value
from etbuilder.spec.strategy import LoraStrategy
from etbuilder.spec.task import RegressionTask

BASE = """\
name: t
data:
  train: train.csv
task:
  type: classification
  text: text
  label: label
train:
  epochs: 3
"""


def load(*overrides: str, text: str = BASE):
    return load_spec_text(text, file="s.yaml", base_dir="/d", overrides=overrides)


def test_values_are_typed_by_the_target_field() -> None:
    spec = load(
        "train.epochs=5",
        "train.learning_rate=1e-4",
        "train.deterministic=true",
        "train.max_grad_norm=null",
        "train.precision=fp32",
        "backbone.max_length=256",
    )
    assert spec.train.epochs == 5
    assert spec.train.learning_rate == pytest.approx(1e-4)
    assert spec.train.deterministic is True
    assert spec.train.max_grad_norm is None
    assert spec.train.precision == "fp32"
    assert spec.backbone.max_length == 256


def test_string_fields_keep_the_text_as_written() -> None:
    spec = load("name=007", "description=true", "backbone.model=1.5", "compute.rendezvous=null")
    assert spec.name == "007"
    assert spec.description == "true"
    assert spec.backbone.model == "1.5"
    assert spec.compute.rendezvous is None


def test_lists_and_mappings_are_flow_yaml() -> None:
    spec = load("task.type=regression", "task.text=[question, answer]", "deploy.formats=[onnx]")
    assert isinstance(spec.task, RegressionTask)
    assert spec.task.text == ["question", "answer"]
    assert spec.deploy.formats == ["onnx"]


def test_overrides_apply_in_order_and_create_sections() -> None:
    spec = load(
        "strategy.type=lora",
        "strategy.r=4",
        "tune.space.train.learning_rate={log_uniform: [1e-5, 1e-3]}",
        "train.early_stopping.patience=4",
    )
    assert isinstance(spec.strategy, LoraStrategy) and spec.strategy.r == 4
    assert spec.tune is not None
    assert list(spec.tune.space) == ["train.learning_rate"]
    assert spec.train.early_stopping is not None and spec.train.early_stopping.patience == 4


def test_type_overrides_apply_first() -> None:
    spec = load("strategy.r=4", "strategy.type=lora")
    assert isinstance(spec.strategy, LoraStrategy) and spec.strategy.r == 4


def test_a_later_override_wins() -> None:
    assert load("train.epochs=5", "train.epochs=6").train.epochs == 6


def test_problems_caused_by_an_override_are_located_at_it() -> None:
    with pytest.raises(SpecError) as raised:
        load("strategy.type=lora", "strategy.r=0", "train.batch_size=-1")
    rendered = [p.render() for p in raised.value.problems]
    assert rendered == [
        "--set strategy.r=0: strategy.r: 0 is too small: it must be at least 1\n"
        "    hint: Rank of the adapter matrices.",
        "--set train.batch_size=-1: train.batch_size: -1 is too small: it must be at least 1\n"
        "    hint: Examples per step on each process.",
    ]


def test_keys_of_the_wrong_branch_are_refused_before_applying() -> None:
    with pytest.raises(SpecError) as raised:
        load("strategy.r=4")
    (problem,) = raised.value.problems
    assert (problem.file, problem.path) == ("--set strategy.r=4", "strategy.r")
    assert "unknown key 'r'" in problem.message


def test_an_override_replaces_the_file_location() -> None:
    with pytest.raises(SpecError) as raised:
        load("train.epochs=x", text=BASE)
    (problem,) = raised.value.problems
    assert problem.file == "--set train.epochs=x" and problem.line is None


@pytest.mark.parametrize(
    ("raw", "annotation", "expected"),
    [
        ("3", int, 3),
        ("3", str, "3"),
        ("3", str | None, "3"),
        ("null", str | None, None),
        ("null", int | None, None),
        ("5e-5", float, 5e-5),
        ("[a, b]", list[str], ["a", "b"]),
        ("[a, b]", str | list[str], ["a", "b"]),
        ("a", str | list[str], "a"),
        ("yes", bool, True),
        ("{int: [1, 4]}", dict, {"int": [1, 4]}),
        ("x: y", str, "x: y"),
        ("{choice: [1e-5, 2.0e-5]}", dict, {"choice": [1e-5, 2e-5]}),
        ("", int | None, None),
    ],
)
def test_parse_value(raw: str, annotation: object, expected: object) -> None:
    assert parse_value(raw, annotation) == expected
