"""`etb package RUN`: build (or rebuild) the deployable app of a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def package(
    run: Annotated[
        Path,
        typer.Argument(metavar="RUN", help="The run folder `etb run` wrote.", show_default=False),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the app folder (default: RUN/app).",
            show_default=False,
        ),
    ] = None,
    quantization: Annotated[
        str | None,
        typer.Option(help="Override deploy.quantization: auto, int8 or none.", show_default=False),
    ] = None,
    formats: Annotated[
        str | None,
        typer.Option(
            help="Override deploy.formats: extra formats in the app, comma-separated "
            "(torch, onnx), or none.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the app folder and archive of a finished run (ONNX fp32/int8, server, model card)."""
    import json

    from etbuilder.errors import RunError
    from etbuilder.package import build_app

    if quantization not in (None, "auto", "int8", "none"):
        raise RunError(f"--quantization {quantization!r}: use auto, int8 or none")
    extra = None
    if formats is not None:
        extra = [f.strip() for f in formats.split(",") if f.strip() and f.strip() != "none"]
    app = build_app(
        run,
        out=output,
        quantization=quantization,
        formats=extra,
        progress=lambda line: typer.echo(line, err=True),
    )
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    model = manifest["model"]
    quality = manifest.get("quality") or {}
    typer.echo(f"app: {app}")
    typer.echo(f"archive: {app.parent / (app.name + '.tar.gz')}")
    typer.echo(f"serves {model['served']} ({model['precision']}): {model['reason']}")
    if quality.get("agreement") is not None:
        typer.echo(f"int8 vs fp32 {quality['agreement_kind']}: {quality['agreement']:.4f}")
    typer.echo(f"start it: etb serve {app}")
