"""`etb ui`: start the studio (the Streamlit app in the repository's `ui/` folder)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from etbuilder.cli._common import run_child

UPLOAD_LIMIT_MB = 200
"""Streamlit's upload limit; ui/workspace.py checks every upload against the same figure."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_file() -> Path:
    """The studio's entry point, `ui/app.py` beside the etbuilder package."""
    return Path(__file__).resolve().parents[2] / "ui" / "app.py"


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.maxUploadSize", str(UPLOAD_LIMIT_MB),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def ui(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8501,
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", help="Folder for projects, uploads and runs."),
    ] = Path("etb-studio"),
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; other than loopback, anyone on the "
            "network can use the studio and its files.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Open the studio: from a data file or a template to a shipped app in the browser."""
    from etbuilder.errors import MissingExtraError, RunError

    if importlib.util.find_spec("streamlit") is None:
        raise MissingExtraError("streamlit", "ui")
    app = app_file()
    if not app.is_file():
        raise RunError(
            f"the studio is not installed: no {app}; install etbuilder from a clone of its "
            "repository (pip install -e '.[ui]')"
        )
    folder = workspace.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise RunError(f"--workspace {workspace} is a file; give a folder (created when missing)")
    folder.mkdir(parents=True, exist_ok=True)
    if host not in LOOPBACK:
        typer.echo(
            f"etb ui: listening on {host}: the studio is reachable from the network", err=True
        )
    typer.echo(f"etb ui: http://{host}:{port}  (workspace {folder}; Ctrl-C stops)", err=True)
    env = dict(os.environ, ETB_UI_WORKSPACE=str(folder))
    root = str(app.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    code = run_child(streamlit_command(app, host, port), env=env, cwd=str(folder))
    if code:
        raise typer.Exit(code)
