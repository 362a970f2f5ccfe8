"""`etb models`: the backbone zoo, with sizes and what works offline on this machine."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from etbuilder.zoo import list_zoo


def _millions(count: int) -> str:
    return f"{count / 1e6:.1f}M"


def models(
    json_: bool = typer.Option(False, "--json", help="Print the zoo as JSON."),
) -> None:
    """List the backbone zoo: alias, source, size, and whether it works offline here."""
    statuses = list_zoo()
    if json_:
        typer.echo(json.dumps([s.to_dict() for s in statuses], indent=2))
        return
    table = Table(title="Backbone zoo (backbone.model)")
    table.add_column("alias", style="bold", no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("layers", justify="right", no_wrap=True)
    table.add_column("hidden", justify="right", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("offline", no_wrap=True)
    for s in statuses:
        table.add_row(
            s.entry.alias,
            s.entry.source_label,
            str(s.layers),
            str(s.hidden),
            _millions(s.parameters),
            "[green]yes[/green]" if s.available_offline else "[dim]no[/dim]",
        )
    console = Console()
    console.print(table)
    console.print(
        "Any Hugging Face id or local folder with config.json also works; ids not in the local "
        "cache need `backbone.allow_online: true`."
    )
