"""The `etb` command line: a table of commands, each a function in its own module.

To add a command, write `etbuilder/cli/<name>.py` with one function (typer parameters, a one-line
docstring, heavy imports inside the function body) and add a line to `COMMANDS`. Only `main()`
turns errors into exit codes: 0 ok, 2 a user mistake (`EtbError`), 1 an internal error.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from etbuilder import __version__
from etbuilder.cli._common import report

COMMANDS: dict[str, str] = {
    "validate": "etbuilder.cli.validate:validate",
    "schema": "etbuilder.cli.schema:schema",
}
"""Command name -> `module:function`, in the order `etb --help` lists them."""

app = typer.Typer(
    name="etb",
    help="etbuilder: declarative transfer learning for NLP, from one YAML spec to a served app.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _command(target: str) -> Callable[..., Any]:
    module_name, _, function_name = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
    return function


for _name, _target in COMMANDS.items():
    app.command(_name)(_command(_target))


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"etb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """etbuilder: declarative transfer learning for NLP, from one YAML spec to a served app."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `etb` with `argv` (default: the process arguments); return the exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="etb")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (Exception, KeyboardInterrupt) as error:
        return report(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
