"""`etb validate SPEC`: check a spec and report every problem at once."""

from __future__ import annotations

import typer

from etbuilder.cli._common import SetOption, SpecArgument, load


def validate(spec: SpecArgument, set_: SetOption = None) -> None:
    """Check a spec: every problem with its line, column and a fix."""
    loaded = load(spec, set_)
    strategy: str = loaded.strategy.type
    then = getattr(loaded.strategy, "then", None)
    if then is not None:
        strategy += f" -> {then.type}"
    typer.echo(f"ok: {loaded.name} ({loaded.task.type}, {strategy}, {loaded.backbone.model})")
