"""`etb validate` through the real CLI: every mistake at once, with lines and fixes."""

from __future__ import annotations

from tests.unit.test_cli_main import run_etb

THREE_MISTAKES = """\
name: review-sentiment
data:
  train: data/train.csv
task:
  type: clasification
  text: review
  label: sentiment
train:
  epochs: 3
  learnin_rate: 5.0e-5
compute:
  devices: gpu
"""


def test_three_independent_mistakes_are_all_reported(write_spec) -> None:
    path = write_spec(THREE_MISTAKES)
    done = run_etb("validate", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"{path}:5:9: task.type: 'clasification' is not a task; allowed: classification, "
        "multilabel, pair_classification, regression, ner, embedding\n"
        "    hint: did you mean 'classification'?\n"
        f"{path}:10:3: train.learnin_rate: unknown key 'learnin_rate'\n"
        "    hint: did you mean 'learning_rate'?\n"
        f"{path}:12:12: compute.devices: 'gpu' is not allowed; allowed: auto, cpu, cuda\n"
        "    hint: did you mean 'cuda'?\n"
        "3 problems in the spec.\n"
    )


def test_set_overrides_are_checked_with_the_file(write_spec) -> None:
    path = write_spec(THREE_MISTAKES.replace("clasification", "classification"))
    done = run_etb(
        "validate",
        str(path),
        "--set",
        "train.learnin_rate=1",
        "--set",
        "compute.devices=cpu",
        "--set",
        "train.epochs=abc",
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{path}:10:3: train.learnin_rate: unknown key 'learnin_rate'",
        "    hint: did you mean 'learning_rate'?",
        "--set train.learnin_rate=1: train.learnin_rate: unknown key 'learnin_rate'",
        "    hint: did you mean 'learning_rate'?",
        "--set train.epochs=abc: train.epochs: 'abc' is not an integer",
        "    hint: expected an integer (>= 1, <= 1000) or null",
        "3 problems in the spec.",
    ]


def test_overrides_can_fix_a_spec(write_spec) -> None:
    path = write_spec(
        THREE_MISTAKES.replace("clasification", "classification").replace("  learnin_rate", "#")
    )
    done = run_etb("validate", str(path), "-s", "compute.devices=cpu", "--set", "name=007")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "ok: 007 (classification, finetune, minilm-l6)\n"


def test_missing_file(tmp_path) -> None:
    done = run_etb("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert done.stderr == f"{tmp_path / 'nope.yaml'}: no such file\n"
