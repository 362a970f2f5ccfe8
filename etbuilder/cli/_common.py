"""What the command modules share: the `--set` option, spec loading, and error reporting."""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Annotated

import typer

from etbuilder.errors import (
    BackboneError,
    CompileError,
    DataError,
    EtbError,
    MissingExtraError,
    RunError,
    SpecError,
    TemplateError,
)

if TYPE_CHECKING:
    from etbuilder.spec import Spec

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a spec key, e.g. --set train.epochs=5 (repeatable).",
        show_default=False,
    ),
]
"""The `--set KEY=VALUE` option every command that reads a spec takes."""

SpecArgument = Annotated[
    str, typer.Argument(metavar="SPEC", help="The spec file (YAML).", show_default=False)
]
"""The positional spec file argument."""

EXIT_CODES: tuple[tuple[type[EtbError], int], ...] = (
    (SpecError, 2),
    (DataError, 2),
    (BackboneError, 2),
    (CompileError, 2),
    (RunError, 2),
    (MissingExtraError, 2),
    (TemplateError, 2),
    (EtbError, 1),
)
"""The process exit code of each error etbuilder raises on purpose: 2 for what the user can fix
(the spec, the data, the backbone, the run folder, a missing extra, a template), 1 otherwise;
130 when interrupted."""

DEBUG_VARIABLE = "ETB_DEBUG"
"""Set to 1 to see the traceback of an internal error."""


def load(path: str, overrides: list[str] | None) -> Spec:
    """Load and check the spec at `path` with `--set` overrides; raises SpecError."""
    from etbuilder.spec.loader import load_spec

    return load_spec(path, overrides or [])


def report(error: BaseException) -> int:
    """Print `error` for the user on stderr and return the process exit code.

    An `EtbError` is a user-facing message with its own exit code (2 for user mistakes); anything
    else is a bug: one line, and the traceback only when ETB_DEBUG=1.
    """
    if isinstance(error, EtbError):
        print(error.render(), file=sys.stderr)
        return exit_code(error)
    if isinstance(error, KeyboardInterrupt):
        print("etb: interrupted", file=sys.stderr)
        return 130
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        traceback.print_exception(error, file=sys.stderr)
    detail = f"{type(error).__name__}: {error}".strip().rstrip(":")
    print(f"etb: internal error ({detail})", file=sys.stderr)
    if os.environ.get(DEBUG_VARIABLE, "") in ("", "0"):
        print(f"    hint: rerun with {DEBUG_VARIABLE}=1 to see the traceback", file=sys.stderr)
    return 1


def exit_code(error: EtbError) -> int:
    """The exit code of an error etbuilder raised on purpose (see EXIT_CODES)."""
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def run_child(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> int:
    """Run a child command (torchrun, streamlit) to its end; return its exit code.

    When this command is interrupted (Ctrl-C reaches the child too; SIGTERM reaches only this
    process), the child gets SIGTERM and `CHILD_GRACE_S` seconds to stop cleanly (torchrun
    stops its workers, which checkpoint or mark the run interrupted) before it is killed.
    """
    import signal
    import subprocess

    child = subprocess.Popen(argv, env=env, cwd=cwd)
    try:
        return child.wait()
    except KeyboardInterrupt:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=CHILD_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise


CHILD_GRACE_S = 30.0
"""Seconds an interrupted command gives its child process to stop before killing it."""
