"""`etb serve APP`: run a packaged app's HTTP server (`python server.py` inside the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    app: Annotated[
        Path,
        typer.Argument(
            metavar="APP",
            help="The app folder (RUN/app), or a run folder holding one.",
            show_default=False,
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Start the server, send the app's example request, print, stop."
        ),
    ] = False,
) -> None:
    """Serve predictions over HTTP: POST /v1/predict, GET /v1/health, docs at /docs."""
    import os
    import sys

    from etbuilder.errors import RunError

    folder = app / "app" if (app / "app" / "server.py").is_file() else app
    if not (folder / "server.py").is_file() or not (folder / "manifest.json").is_file():
        raise RunError(
            f"{app} is not an app folder (no server.py and manifest.json)\n"
            "    hint: pass RUN/app, or build it first with `etb package RUN`"
        )
    folder = folder.resolve()
    if check:
        import json

        from etbuilder.package.smoke import check_app

        result = check_app(folder)
        typer.echo(f"server of {folder} answered in {result['ready_seconds']:.2f}s")
        typer.echo(f"POST /v1/predict {json.dumps(result['request'], ensure_ascii=False)}")
        typer.echo(f"-> {json.dumps(result['response'], ensure_ascii=False)}")
        return
    typer.echo(f"serving {folder} on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    argv = [
        sys.executable, str(folder / "server.py"),
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    # Replace this process: the server imports neither etbuilder nor torch.
    os.chdir(folder)
    os.execv(sys.executable, argv)
