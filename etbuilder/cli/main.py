"""The `etb` command line: a table of commands, each a function in its own module.

To add a command, write `etbuilder/cli/<name>.py` with one function (typer parameters, a one-line
docstring) and add a line to `COMMANDS`. A command's module is imported only when that command
runs; `etb --help` reads the one-line docstrings from the source without importing anything.
Only `main()` turns errors into exit codes: 0 ok, 2 a user mistake (`EtbError`), 1 an internal
error.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from functools import cache
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from etbuilder import __version__
from etbuilder.cli._common import report

COMMANDS: dict[str, str] = {
    "templates": "etbuilder.cli.templates:templates",
    "init": "etbuilder.cli.init:init",
    "validate": "etbuilder.cli.validate:validate",
    "schema": "etbuilder.cli.schema:schema",
    "plan": "etbuilder.cli.plan:plan",
    "models": "etbuilder.cli.models:models",
    "run": "etbuilder.cli.run:run",
    "tune": "etbuilder.cli.tune:tune",
    "evaluate": "etbuilder.cli.evaluate:evaluate",
    "predict": "etbuilder.cli.predict:predict",
    "package": "etbuilder.cli.package:package",
    "serve": "etbuilder.cli.serve:serve",
    "ui": "etbuilder.cli.ui:ui",
}
"""Command name -> `module:function`, in the order `etb --help` lists them."""


def command_function(name: str) -> Callable[..., Any]:
    """Import the module of command `name` and return its function."""
    module_name, _, function_name = COMMANDS[name].partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
    return function


@cache
def command_summary(name: str) -> str:
    """The first line of the command function's docstring, read from source (no import)."""
    module_name, _, function_name = COMMANDS[name].partition(":")
    found = importlib.util.find_spec(module_name)
    if found is None or found.origin is None:
        return ""
    with open(found.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            return (ast.get_docstring(node) or "").strip().split("\n")[0]
    return ""


class LazyCommands(TyperGroup):
    """The command group of `COMMANDS`, building each command only when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            info = CommandInfo(name=cmd_name, callback=command_function(cmd_name))
            self.commands[cmd_name] = get_command_from_info(
                info, pretty_exceptions_short=True, rich_markup_mode=None
            )
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, command_summary(name)) for name in COMMANDS])

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            close = difflib.get_close_matches(args[0], list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {args[0]!r}.{hint}")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="etb",
    cls=LazyCommands,
    help="etbuilder: declarative transfer learning for NLP, from one YAML spec to a served app.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def _interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt an exit was raised while handling, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run `etb` with `argv` (default: the process arguments); return the exit code.

    SIGTERM (a scheduler or `kill` stopping the command) ends it as Ctrl-C does: what it was
    writing is dropped or left resumable (no half-written file), and it exits 130 saying so.
    """
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="etb")
    except SystemExit as done:
        interrupt = _interrupt_behind(done)
        if interrupt is not None:  # the CLI library turned Ctrl-C into a silent exit 130
            return report(interrupt)
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (Exception, KeyboardInterrupt) as error:
        return report(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
