"""`etb predict`: label a file with a packaged app (ONNX, default) or a run's PyTorch model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunArgument = Annotated[
    Path,
    typer.Argument(
        metavar="RUN_OR_APP", help="A run folder written by `etb run`, or its packaged app folder."
    ),
]
InputOption = Annotated[
    Path, typer.Option("--input", "-i", help="The csv/tsv/jsonl file to label.")
]
OutputOption = Annotated[
    Path,
    typer.Option("--output", "-o", help="Where to write it, with prediction and score columns."),
]
TorchOption = Annotated[
    bool,
    typer.Option("--torch", help="Use the run's PyTorch model instead of the app's ONNX model."),
]


def predict(
    run: RunArgument, input: InputOption, output: OutputOption, torch: TorchOption = False
) -> None:
    """Write a file's rows with the model's prediction and score columns added."""
    from etbuilder.package.batch import app_folder

    app = None if torch else app_folder(run)
    if app is not None:
        from etbuilder.package.batch import predict_file_with_app

        count = predict_file_with_app(app, input, output)
        typer.echo(f"{count} predictions written to {output} (app: {app})")
        return
    from etbuilder.runtime.scoring import predict_file

    count = predict_file(run, input, output)
    typer.echo(f"{count} predictions written to {output} (PyTorch model of {run})")
