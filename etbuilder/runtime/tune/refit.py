"""`tune.refit: train+validation`: retrain the best configuration on the training and validation
rows together, for the best trial's number of epochs, then test and package it like any run.

The rows are those the best trial read (its plan's files and split, replayed), written as jsonl
beside the study with fixed column names, so the refit's test rows are the trials' test rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from etbuilder.data import Examples
from etbuilder.data.rows import load_examples
from etbuilder.plan import lbfgs_head
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.rundir import read_plan, write_atomic
from etbuilder.runtime.tune.trial import TRIAL_SPEC

REFIT_SPEC = "refit.yaml"


def _records(rows: Examples, per_token: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(len(rows)):
        if per_token and rows.words is not None:
            record: dict[str, Any] = {"tokens": list(rows.words[i])}
            if rows.labelled:
                record["tags"] = list(rows.labels[i])
        else:
            record = (
                {"text_a": rows.pairs[i][0], "text_b": rows.pairs[i][1]}
                if rows.pairs is not None
                else {"text": rows.texts[i]}
            )
            if rows.labelled:
                label = rows.labels[i]
                record["label"] = list(label) if isinstance(label, tuple) else label
        out.append(record)
    return out


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def refit_spec(best_run: Path, folder: Path) -> Path:
    """Write the refit's data files and spec under `folder`; returns the spec file."""
    import yaml

    plan = read_plan(best_run)
    per_token = TASK_RULES[plan.task.type].per_token
    examples = load_examples(plan)
    data_dir = folder / "refit-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    train = _records(examples["train"], per_token)
    if "validation" in examples:
        train += _records(examples["validation"], per_token)
    _write_jsonl(data_dir / "train.jsonl", train)
    spec = yaml.safe_load((best_run / TRIAL_SPEC).read_text(encoding="utf-8"))
    data: dict[str, Any] = {
        "train": str(data_dir / "train.jsonl"),
        "format": "jsonl",
        "split": {"validation": 0.0, "test": 0.0},  # nothing held out: the epochs are known
    }
    if "test" in examples:
        _write_jsonl(data_dir / "test.jsonl", _records(examples["test"], per_token))
        data["test"] = str(data_dir / "test.jsonl")
    spec["data"] = data
    task = dict(spec["task"])
    if per_token:
        task.update(tokens="tokens", tags="tags")
    else:
        pairs = examples["train"].pairs is not None
        task["text"] = ["text_a", "text_b"] if pairs else "text"
        if "label" in task:
            task["label"] = "label"
        task.pop("separator", None)  # the labels are lists now
    spec["task"] = task
    metrics = json.loads((best_run / "metrics.json").read_text(encoding="utf-8"))
    train_spec = dict(spec.get("train") or {})
    if lbfgs_head(read_plan(best_run).strategy) is not None:
        # an L-BFGS head has no epochs: keep the solver (set epochs would switch it to AdamW)
        spec["strategy"] = _pin_lbfgs(dict(spec["strategy"]))
    else:
        best_epoch = metrics.get("best_epoch") or train_spec.get("epochs") or 1
        train_spec["epochs"] = max(1, math.ceil(float(best_epoch)))
    train_spec.pop("early_stopping", None)
    spec["train"] = train_spec
    path = folder / REFIT_SPEC
    header = (
        f"# The best trial ({best_run.name}) retrained on train + validation "
        f"({len(train)} rows) for its best epoch count; tested on the same test rows.\n"
    )
    write_atomic(path, header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return path


def _pin_lbfgs(strategy: dict[str, Any]) -> dict[str, Any]:
    """The strategy mapping with the features head's solver written out as lbfgs."""
    if strategy.get("type") == "dapt":
        return {**strategy, "then": _pin_lbfgs(dict(strategy["then"]))}
    return {**strategy, "solver": "lbfgs"}


def refit(best_run: Path, folder: Path, *, quiet: bool = True) -> Path:
    """Train, test and report the refit into `folder/refit`; returns that run folder."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec

    path = refit_spec(best_run, folder)
    plan = compile_spec(load_spec(path), spec_path=path)
    run_dir = folder / "refit"
    run_plan(plan, run_dir, quiet=quiet)
    return run_dir
