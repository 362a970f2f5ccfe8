"""`etb predict` on a packaged app: a file's rows labelled by the app's ONNX model, no torch.

The file is streamed: read, labelled and written a chunk at a time, so a file of millions of
rows runs in the memory of one chunk.

The file is read with the read options of the run's training file (the app's run folder holds
the plan) or, for an app moved away from its run, by its extension with the manifest's columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etbuilder.data.chunks import CHUNK_ROWS
from etbuilder.data.output import prediction_records
from etbuilder.errors import DataError, RunError
from etbuilder.package.predict import predict_with_app
from etbuilder.plan import Plan, SplitSource


def app_folder(path: Path) -> Path | None:
    """The app folder `path` names: itself, or `path/app` for a run folder that holds one."""
    for folder in (path, path / "app"):
        if (folder / "manifest.json").is_file() and (folder / "inference.py").is_file():
            return folder
    return None


def _plan_near(app: Path) -> Plan | None:
    plan_file = app.parent / "plan.json"
    if plan_file.is_file():
        return Plan.from_json(plan_file.read_text(encoding="utf-8"))
    return None


def _source(app: Path, input_file: Path, plan: Plan | None) -> SplitSource:
    """How to read `input_file`: the training file's read options when the run is near."""
    from etbuilder.spec.data import EXTENSION_FORMATS

    if plan is not None:
        from etbuilder.runtime.scoring import user_source

        return user_source(plan, input_file)
    if not input_file.is_file():
        raise DataError("no such file", file=str(input_file), hint="check the path")
    fmt = EXTENSION_FORMATS.get(input_file.suffix.lower(), "csv")
    return SplitSource(name="test", path=str(input_file), format=fmt)


def _inputs(table: Any, plan: Plan | None, columns: list[str]) -> list[Any]:
    """The model inputs of one chunk's rows: texts, pairs or joined words."""
    if plan is not None:
        from etbuilder.data import examples_from_table

        examples = examples_from_table(plan.spec.task, table)
        if examples.pairs is not None:
            return [list(p) for p in examples.pairs]
        return list(examples.texts)
    missing = [c for c in columns if c not in table.columns]
    if missing or not columns:
        raise DataError(
            f"missing column(s) {', '.join(map(repr, missing or ['text']))}",
            file=table.file,
            hint=f"the app reads the columns {columns}; this file has {list(table.columns)}",
        )
    if len(columns) == 2:
        return [[a, b] for a, b in zip(*(table.column(c) for c in columns), strict=True)]
    return [str(t) for t in table.column(columns[0])]


def _prediction(result: dict[str, Any]) -> tuple[Any, Any]:
    """(prediction, score) columns from one app answer."""
    for key in ("label", "value", "labels", "entities", "vector"):
        if key in result:
            return result[key], result.get("score")
    raise RunError(f"the app answered without a prediction: {sorted(result)}")


def _cell(prediction: Any) -> Any:
    """Entities (a list of objects) become one JSON cell; labels and vectors stay as they are."""
    if isinstance(prediction, list) and any(isinstance(p, dict) for p in prediction):
        return json.dumps(prediction, ensure_ascii=False)
    return prediction


def predict_file_with_app(
    app: Path,
    input_file: Path,
    output_file: Path,
    *,
    escape_formulas: bool = True,
    overwrite: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write `input_file`'s rows with `prediction` (and `score`) columns from the app's model.

    The output path and format are checked before any inference; the input is read, labelled
    and written `chunk_rows` rows at a time, so memory does not grow with the file.
    """
    from etbuilder.data.chunks import iter_chunks
    from etbuilder.data.output import PredictionWriter, check_output

    fmt = check_output(output_file, input_file, overwrite=overwrite)
    plan = _plan_near(app)
    source = _source(app, input_file, plan)
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    columns = list(manifest["task"]["text_columns"])
    separator = manifest["task"].get("options", {}).get("separator")
    delimiter = source.delimiter if source.format == fmt else None
    with PredictionWriter(
        output_file, fmt, delimiter=delimiter, escape_formulas=escape_formulas
    ) as writer:
        for table in iter_chunks(source, chunk_rows):
            results = predict_with_app(app, _inputs(table, plan, columns))
            pairs = [_prediction(r) for r in results]
            scores = [s for _, s in pairs]
            writer.write(
                prediction_records(
                    table,
                    [_cell(p) for p, _ in pairs],
                    [round(float(s), 6) if s is not None else None for s in scores]
                    if any(s is not None for s in scores)
                    else None,
                    fmt,
                    separator,
                    writer.delimiter,
                )
            )
    return writer.rows
