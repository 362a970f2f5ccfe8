"""`etb schema`: the JSON Schema of specs (for editors) and the markdown reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the JSON Schema here instead of printing it."),
]
ReferenceOption = Annotated[
    Path | None,
    typer.Option("--reference", help="Also write the markdown reference of every key here."),
]


def schema(output: OutputOption = None, reference: ReferenceOption = None) -> None:
    """Print or write the spec's JSON Schema and markdown reference."""
    from etbuilder.spec.reference import render_json_schema, render_reference

    if output is None and reference is None:
        typer.echo(render_json_schema(), nl=False)
    if output is not None:
        write_text(output, render_json_schema())
        typer.echo(f"wrote {output}", err=True)
    if reference is not None:
        write_text(reference, render_reference())
        typer.echo(f"wrote {reference}", err=True)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a reader never sees half a file)."""
    from etbuilder.atomic import atomic_write

    atomic_write(path, text, fsync=False)
