"""A finished run's model applied to new files: `etb evaluate` and `etb predict`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from etbuilder.data import Examples, examples_from_table, load_examples
from etbuilder.errors import DataError, RunError
from etbuilder.plan import Plan, SplitSource
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.runtime.encode import Encoded, encode_examples, load_fast_tokenizer


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


def predict_file(
    run_dir: Path,
    input_file: Path,
    output_file: Path,
    *,
    escape_formulas: bool = True,
    overwrite: bool = False,
    chunk_rows: int | None = None,
) -> int:
    """Write `input_file`'s rows with `prediction` (and `score`) columns; returns the row count.

    The output path and format are checked before the model is loaded; the input is read,
    labelled and written `chunk_rows` rows at a time (as `etb predict` on an app does), so
    memory does not grow with the file.
    """
    from etbuilder.data.chunks import CHUNK_ROWS, iter_chunks
    from etbuilder.data.output import PredictionWriter, check_output, prediction_records

    fmt = check_output(output_file, input_file, overwrite=overwrite)
    loaded = load_run(run_dir)
    source = user_source(loaded.plan, input_file)
    task = loaded.plan.task
    delimiter = source.delimiter if source.format == fmt else None
    with PredictionWriter(
        output_file, fmt, delimiter=delimiter, escape_formulas=escape_formulas
    ) as writer:
        for table in iter_chunks(source, chunk_rows or CHUNK_ROWS):
            examples = examples_from_table(loaded.plan.spec.task, table)
            predictions, scores = _predictions(loaded, examples)
            records = prediction_records(
                table, predictions, scores, fmt, task.separator, writer.delimiter
            )
            writer.write(records)
    return writer.rows


def _predictions(loaded: LoadedRun, examples: Examples) -> tuple[list[Any], list[Any] | None]:
    """(prediction, score) columns of one chunk's rows."""
    task = loaded.plan.task
    if TASK_RULES[task.type].output == "vector" and examples.pairs is None:
        return [v.round(6).tolist() for v in _vectors(loaded, examples)], None
    _, (_, rows) = _score(loaded, examples)
    predictions = [r.get("prediction") for r in rows]
    if rows and "score" in rows[0]:
        return predictions, [round(float(r["score"]), 6) for r in rows]
    return predictions, None
