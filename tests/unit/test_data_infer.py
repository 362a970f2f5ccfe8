"""`etb init --data`: the task and columns of a data file, each with its reason, as a spec that
validates and plans; open choices are said, never guessed silently; nothing is overwritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_compiler_fixtures import isolated_cache

from etbuilder.cli.main import main
from etbuilder.data.infer import infer
from etbuilder.errors import DataError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
__all__ = ["isolated_cache"]

SHARED = {
    "sst2_glue/train.tsv": {"type": "classification", "text": "sentence", "label": "label"},
    "ag_news/dev.tsv": {"type": "classification", "text": "column1", "label": "column2"},
    "banking77/train.csv": {"type": "classification", "text": "text", "label": "category"},
    "mrpc/msr_paraphrase_train.txt": {
        "type": "pair_classification",
        "text": ["column4", "column5"],
        "label": "column1",
    },
    "stsb/stsb-en-train.csv": {
        "type": "regression",
        "text": ["column1", "column2"],
        "label": "column3",
    },
    "wnut17/wnut17train.conll": {"type": "ner"},
    "sms_spam/SMSSpamCollection": {"type": "classification", "text": "column2", "label": "column1"},
}
"""Each shared dataset's training file and the task `etb init` must find in it."""


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")
@pytest.mark.usefixtures("isolated_cache")
@pytest.mark.parametrize("name", sorted(SHARED))
def test_init_on_each_shared_dataset_finds_the_task_and_plans(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "app"
    assert main(["init", "--data", str(DATA / name), "--budget", "10m", str(folder)]) == 0
    spec = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["task"] == SHARED[name]
    assert spec["tune"]["budget"] == "10m"
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "next: etb run" in captured.out
    assert "task.type:" in captured.err, "the reason for the task is shown"
    assert main(["validate", str(folder / "spec.yaml")]) == 0


def test_headerless_numeric_pair_file_says_each_choice_and_its_flag(tmp_path: Path) -> None:
    rows = [
        f"{i % 2}\t{1000 + i}\tthe first text number {i}\tand the second one {i}" for i in range(80)
    ]
    (tmp_path / "pairs.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    found = infer(tmp_path / "pairs.txt")
    assert found.task == {
        "type": "pair_classification",
        "text": ["column3", "column4"],
        "label": "column1",
    }
    notes = " | ".join(found.notes)
    assert "no header row" in notes and "--header" in notes
    assert "read as a pair" in notes and "--text COL" in notes
    assert "numeric with 2 distinct values" in notes and "--task regression" in notes
    single = infer(tmp_path / "pairs.txt", text=["column3"], task="regression")
    assert single.task == {"type": "regression", "text": "column3", "label": "column1"}


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_columns_it_has_never_seen(tmp_path: Path) -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    rows = [
        {
            "ticket_body": " ".join(words[(i + k) % 10] for k in range(6)),
            "team": ["billing", "tech", "sales"][i % 3],
            "prio": i % 5 + 0.5,
            "topics": "|".join(sorted({words[i % 4], words[(i * 3) % 4]})),
        }
        for i in range(90)
    ]
    data = _jsonl(tmp_path / "tickets.jsonl", rows)
    with_label = infer(data, label="team")
    assert with_label.task == {"type": "classification", "text": "ticket_body", "label": "team"}
    assert infer(data, label="prio").task["type"] == "regression"
    tags = infer(data, label="topics")
    assert tags.task["type"] == "multilabel" and tags.task["separator"] == "|"
    ner = _jsonl(
        tmp_path / "ner.jsonl",
        [{"words": ["Ada", "met", "Bob"], "ner": ["B-per", "O", "B-per"]}] * 20,
    )
    assert infer(ner).task == {"type": "ner", "tokens": "words", "tags": "ner"}
    with pytest.raises(DataError, match="no column 'nope'"):
        infer(data, label="nope")


@pytest.mark.usefixtures("isolated_cache")
def test_init_never_overwrites_a_spec_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "reviews.csv"
    data.write_text(
        "review,stars\n"
        + "".join(
            f"the film was {'good' if i % 2 else 'bad'} number {i},{i % 2}\n" for i in range(60)
        ),
        encoding="utf-8",
    )
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "spec.yaml").write_text("mine\n", encoding="utf-8")
    assert main(["init", "--data", str(data), str(folder)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (folder / "spec.yaml").read_text(encoding="utf-8") == "mine\n"
    assert main(["init", "--data", str(data), "--force", str(folder)]) == 0
    text = (folder / "spec.yaml").read_text(encoding="utf-8")
    assert "label: stars  #" in text and "tune:" in text


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")
@pytest.mark.usefixtures("isolated_cache")
def test_init_makes_trial_0_a_configuration_the_budget_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    data = tmp_path / "reviews.tsv"
    lines = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(lines[:2001]) + "\n", encoding="utf-8")
    plans = {}
    for budget in ("10m", "40s"):
        folder = tmp_path / budget
        assert main(["init", "--data", str(data), "--budget", budget, str(folder)]) == 0
        spec = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
        plan = compile_spec(load_spec(folder / "spec.yaml"), spec_path=folder / "spec.yaml")
        assert plan.tune is not None and plan.tune.expected_trials >= 2
        plans[budget] = (spec, plan.tune)
    spec, tune = plans["10m"]
    assert spec["strategy"]["type"] == "finetune" and spec["train"]["epochs"] == 3
    assert tune.search_seconds == 600
    spec, tune = plans["40s"]  # a finetune epoch leaves no room for a second trial
    assert spec["strategy"]["type"] == "features" and "train" not in spec
    assert tune.seconds_per_trial < plans["10m"][1].seconds_per_trial
    assert "strategy.type: features, because one epoch" in capsys.readouterr().err
    folder = tmp_path / "too-short"
    assert main(["init", "--data", str(data), "--budget", "2s", str(folder)]) == 2
    assert "--budget 2s is shorter than one trial" in capsys.readouterr().err
    assert not (folder / "spec.yaml").exists() and not list(folder.iterdir())
