"""A finished run's model applied to new files: `etb evaluate` and `etb predict`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from etbuilder.data import Examples, examples_from_table, load_examples
from etbuilder.errors import DataError, RunError
from etbuilder.plan import Plan, SplitSource
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.runtime.encode import Encoded, encode_examples, load_fast_tokenizer

OUTPUT_FORMATS = ("csv", "tsv", "jsonl")


@dataclass
class LoadedRun:
    run_dir: Path
    plan: Plan
    model: Any
    tokenizer: Any

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id or 0)


def load_run(run_dir: Path) -> LoadedRun:
    """The plan, trained model and tokenizer of a run folder."""
    from etbuilder.report.rundir import read_plan
    from etbuilder.runtime.models import load_trained

    plan = read_plan(run_dir)
    folder = run_dir / "model"
    if not (folder / "config.json").is_file():
        raise RunError(
            f"{run_dir} holds no trained model (model/ is missing): the run did not finish; "
            f"continue it with `etb run SPEC --resume --output {run_dir}`"
        )
    return LoadedRun(run_dir, plan, load_trained(plan, folder), load_fast_tokenizer(str(folder)))


def user_source(plan: Plan, path: Path) -> SplitSource:
    """Read options for a user file: those of the training file when the format matches."""
    from etbuilder.spec.data import EXTENSION_FORMATS

    if not path.is_file():
        raise DataError("no such file", file=str(path), hint="check the path")
    train = next(s for s in plan.data.sources if s.name == "train")
    fmt = EXTENSION_FORMATS.get(path.suffix.lower(), train.format)
    if fmt == train.format:
        return train.model_copy(
            update={"name": "test", "path": str(path), "max_rows": None, "carved_from_train": False}
        )
    return SplitSource(name="test", path=str(path), format=fmt)


def read_user_file(plan: Plan, path: Path) -> tuple[Any, Examples, SplitSource]:
    from etbuilder.data import read_split

    source = user_source(plan, path)
    table = read_split(source)
    return table, examples_from_table(plan.spec.task, table), source


def _score(loaded: LoadedRun, examples: Examples) -> tuple[Any, Any]:
    from etbuilder.runtime.finish import evaluate_split

    encoded: Encoded = encode_examples(examples, loaded.plan.task, loaded.tokenizer)
    return encoded, evaluate_split(
        loaded.plan, loaded.model, examples, encoded, pad_id=loaded.pad_id
    )


def evaluate_run(run_dir: Path, data: Path | None = None) -> dict[str, Any]:
    """Metrics of the run's model on `data` (default: the plan's test split)."""
    loaded = load_run(run_dir)
    if data is None:
        splits = load_examples(loaded.plan)
        name = "test" if "test" in splits else "validation"
        if name not in splits:
            raise RunError("this run has no test or validation split; give one with --data FILE")
        examples = splits[name]
    else:
        _, examples, _ = read_user_file(loaded.plan, data)
    if not examples.labelled:
        raise DataError(
            "the file has no labels to evaluate against",
            file=examples.file,
            column=loaded.plan.task.label_column,
            hint="evaluate needs the label column; use `etb predict` for unlabelled files",
        )
    _, (metrics, _) = _score(loaded, examples)
    return metrics or {}


def _vectors(loaded: LoadedRun, examples: Examples) -> np.ndarray:
    from etbuilder.runtime.inference import run_model

    encoded = encode_examples(examples, loaded.plan.task, loaded.tokenizer)
    out = run_model(
        loaded.model,
        encoded,
        loaded.plan.task,
        batch_size=max(8, loaded.plan.schedule.batch_size * 2),
        pad_id=loaded.pad_id,
        embed=True,
    )
    return np.asarray(out.values)


def predict_file(run_dir: Path, input_file: Path, output_file: Path) -> int:
    """Write `input_file`'s rows with `prediction` (and `score`) columns; returns the row count."""
    loaded = load_run(run_dir)
    table, examples, source = read_user_file(loaded.plan, input_file)
    task = loaded.plan.task
    scores: list[Any] | None = None
    if TASK_RULES[task.type].output == "vector" and examples.pairs is None:
        predictions: list[Any] = [v.round(6).tolist() for v in _vectors(loaded, examples)]
    else:
        _, (_, rows) = _score(loaded, examples)
        predictions = [r.get("prediction") for r in rows]
        if rows and "score" in rows[0]:
            scores = [round(float(r["score"]), 6) for r in rows]
    write_predictions(table, source, output_file, predictions, scores, task.separator)
    return len(predictions)


def _cell(value: Any, separator: str) -> Any:
    if isinstance(value, list | tuple):
        return separator.join(str(v) for v in value)
    return value


def write_predictions(
    table: Any,
    source: SplitSource,
    path: Path,
    predictions: list[Any],
    scores: list[Any] | None,
    separator: str | None = None,
) -> None:
    """The input rows plus prediction (and score) columns, in the output file's format.

    `separator` joins the labels of a list prediction in csv/tsv (default: a space).
    """
    from etbuilder.spec.data import EXTENSION_FORMATS

    fmt = EXTENSION_FORMATS.get(path.suffix.lower(), source.format)
    if fmt not in OUTPUT_FORMATS:
        raise DataError(
            f"cannot write predictions as {fmt}",
            file=str(path),
            hint="name the output .csv, .tsv or .jsonl",
        )
    extra = ["prediction"] + (["score"] if scores is not None else [])
    columns = [c for c in table.columns if c not in extra] + extra
    records = []
    for i, row in enumerate(table.rows()):
        record = {c: row[c] for c in table.columns if c not in extra}
        record["prediction"] = predictions[i]
        if scores is not None:
            record["score"] = scores[i]
        records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        path.write_text(text, encoding="utf-8")
        return
    delimiter = source.delimiter if source.format == fmt and source.delimiter else None
    delimiter = delimiter or ("\t" if fmt == "tsv" else ",")
    joiner = " " if delimiter != " " else ","
    if separator:
        joiner = separator
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow([_cell(record.get(c), joiner) for c in columns])
