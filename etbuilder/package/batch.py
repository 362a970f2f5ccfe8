"""`etb predict` on a packaged app: a file's rows labelled by the app's ONNX model, no torch.

The file is read with the read options of the run's training file (the app's run folder holds
the plan) or, for an app moved away from its run, by its extension with the manifest's columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def _read(app: Path, input_file: Path) -> tuple[Any, list[Any], SplitSource]:
    """The input table, the model inputs per row (texts, pairs or joined words), the source."""
    from etbuilder.data import examples_from_table, read_split
    from etbuilder.runtime.scoring import user_source
    from etbuilder.spec.data import EXTENSION_FORMATS

    plan = _plan_near(app)
    if plan is not None:
        source = user_source(plan, input_file)
        table = read_split(source)
        examples = examples_from_table(plan.spec.task, table)
        if examples.pairs is not None:
            return table, [list(p) for p in examples.pairs], source
        return table, list(examples.texts), source
    if not input_file.is_file():
        raise DataError("no such file", file=str(input_file), hint="check the path")
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    columns = list(manifest["task"]["text_columns"])
    fmt = EXTENSION_FORMATS.get(input_file.suffix.lower(), "csv")
    source = SplitSource(name="test", path=str(input_file), format=fmt)
    table = read_split(source)
    missing = [c for c in columns if c not in table.columns]
    if missing or not columns:
        raise DataError(
            f"missing column(s) {', '.join(map(repr, missing or ['text']))}",
            file=str(input_file),
            hint=f"the app reads the columns {columns}; this file has {list(table.columns)}",
        )
    if len(columns) == 2:
        return (
            table,
            [[a, b] for a, b in zip(*(table.column(c) for c in columns), strict=True)],
            source,
        )
    return table, [str(t) for t in table.column(columns[0])], source


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


def predict_file_with_app(app: Path, input_file: Path, output_file: Path) -> int:
    """Write `input_file`'s rows with `prediction` (and `score`) columns from the app's model."""
    from etbuilder.runtime.scoring import write_predictions

    table, inputs, source = _read(app, input_file)
    results = predict_with_app(app, inputs)
    pairs = [_prediction(r) for r in results]
    predictions = [_cell(p) for p, _ in pairs]
    scores = [s for _, s in pairs]
    has_scores = any(s is not None for s in scores)
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    write_predictions(
        table,
        source,
        output_file,
        predictions,
        [round(float(s), 6) if s is not None else None for s in scores] if has_scores else None,
        manifest["task"].get("options", {}).get("separator"),
    )
    return len(results)
