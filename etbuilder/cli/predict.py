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
    Path, typer.Option("--input", "-i", help="The csv/tsv/jsonl/parquet file to label.")
]
OutputOption = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="A new .csv, .tsv, .jsonl or .parquet file: the input rows with prediction and "
        "score columns.",
    ),
]
EscapeOption = Annotated[
    bool,
    typer.Option(
        "--escape-formulas/--no-escape-formulas",
        help="In csv/tsv, put an apostrophe before a text that a spreadsheet would run as a "
        "formula (=, +, -, @, tab, carriage return first). Turn off for programs, not people.",
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace the output file if it exists.")
]
TorchOption = Annotated[
    bool,
    typer.Option("--torch", help="Use the run's PyTorch model instead of the app's ONNX model."),
]


def predict(
    run: RunArgument,
    input: InputOption,
    output: OutputOption,
    torch: TorchOption = False,
    escape_formulas: EscapeOption = True,
    overwrite: OverwriteOption = False,
) -> None:
    """Write a file's rows with the model's prediction and score columns added."""
    from etbuilder.data.output import check_output
    from etbuilder.package.batch import app_folder

    check_output(output, input, overwrite=overwrite)
    app = None if torch else app_folder(run)
    if app is not None:
        from etbuilder.package.batch import predict_file_with_app

        count = predict_file_with_app(
            app, input, output, escape_formulas=escape_formulas, overwrite=overwrite
        )
        typer.echo(f"{count} predictions written to {output} (app: {app})")
        return
    from etbuilder.runtime.scoring import predict_file

    count = predict_file(run, input, output, escape_formulas=escape_formulas, overwrite=overwrite)
    typer.echo(f"{count} predictions written to {output} (PyTorch model of {run})")
