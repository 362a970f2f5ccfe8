"""`etb templates`: the gallery of ready-to-run business scenarios."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from etbuilder.gallery import Template, list_templates


def _measured(template: Template) -> str:
    measured = template.measured
    if measured is None:
        return "not recorded"
    text = f"{measured.metric} {measured.value:.3f}"
    if measured.search_seconds is not None:
        text += f", search {measured.search_seconds:.0f} s"
    elif measured.train_seconds is not None:
        text += f", {measured.train_seconds:.0f} s"
    return text


def templates(
    json_: bool = typer.Option(False, "--json", help="Print the gallery as JSON."),
) -> None:
    """List the template gallery: task, strategy, purpose, measured metric and training time."""
    gallery = list_templates()
    if json_:
        typer.echo(json.dumps([t.to_dict() for t in gallery], indent=2))
        return
    table = Table(title="Template gallery (etb init --template NAME DIR)")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("task", no_wrap=True)
    table.add_column("strategy")
    table.add_column("purpose", min_width=20, ratio=1)
    table.add_column("test metric, training time")
    for template in gallery:
        table.add_row(
            template.name, template.task, template.strategy, template.purpose, _measured(template)
        )
    console = Console()
    console.print(table)
    console.print(
        "Measured with the default backbone (minilm-l6) on a 2-core CPU; each template's "
        "README.md gives the command, the data and what to change first."
    )
