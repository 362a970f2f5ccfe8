"""`etb evaluate`: score a finished run's model on its test split or on another labelled file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

RunArgument = Annotated[
    Path, typer.Argument(metavar="RUN", help="A run folder written by `etb run`.")
]
DataOption = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="A labelled csv/tsv/jsonl/parquet/conll file to score."),
]


def evaluate(
    run: RunArgument,
    data: DataOption = None,
    json_: bool = typer.Option(False, "--json", help="Print every metric as JSON."),
) -> None:
    """Score a trained run on its test split, or on a labelled file given with --data."""
    from etbuilder.runtime.scoring import evaluate_run

    metrics = evaluate_run(run, data)
    if json_:
        typer.echo(json.dumps(metrics, indent=2, sort_keys=True, default=str))
        return
    for name, value in sorted(metrics.items()):
        if isinstance(value, float):
            typer.echo(f"{name}: {value:.4f}")
        elif isinstance(value, int) and not isinstance(value, bool):
            typer.echo(f"{name}: {value}")
