"""`etb init`: start a project folder from a gallery template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DirArgument = Annotated[
    Path, typer.Argument(metavar="DIR", help="The new project folder.", show_default=False)
]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        "-t",
        metavar="NAME",
        help="Copy this gallery template, data included (see `etb templates`).",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Write into DIR even if it is not empty (files of the same name are replaced).",
    ),
]


def init(
    directory: DirArgument, template: TemplateOption = None, force: ForceOption = False
) -> None:
    """Start a project: copy a gallery template into a new folder that runs as it is."""
    from etbuilder.errors import TemplateError
    from etbuilder.gallery import copy_template, run_commands

    if template is None:
        raise TemplateError(
            "say what to start from: etb init --template NAME DIR (`etb templates` lists the names)"
        )
    copied = copy_template(template, directory, force=force)
    typer.echo(f"copied template {template!r} to {directory}/ (spec.yaml, README.md, data/)")
    typer.echo("next:")
    for command in run_commands(copied, directory):
        typer.echo(f"  {command}")
    typer.echo(f"then point {directory}/spec.yaml at your own data (see {directory}/README.md)")
