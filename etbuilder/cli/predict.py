"""`etb predict`: label a file with a finished run's model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunArgument = Annotated[
    Path, typer.Argument(metavar="RUN", help="A run folder written by `etb run`.")
]
InputOption = Annotated[
    Path, typer.Option("--input", "-i", help="The csv/tsv/jsonl file to label.")
]
OutputOption = Annotated[
    Path,
    typer.Option("--output", "-o", help="Where to write it, with prediction and score columns."),
]


def predict(run: RunArgument, input: InputOption, output: OutputOption) -> None:
    """Write a file's rows with the model's prediction and score columns added."""
    from etbuilder.runtime.scoring import predict_file

    count = predict_file(run, input, output)
    typer.echo(f"{count} predictions written to {output}")
