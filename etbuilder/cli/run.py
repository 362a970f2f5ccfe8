"""`etb run`: compile a spec, train, evaluate on the test split, write the report, package."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from etbuilder.cli._common import SetOption, SpecArgument, load

ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the latest run of this spec (or --output DIR) from its last checkpoint.",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Run folder (default: runs/<name>/<timestamp>/)."),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar; print only the result.")
]


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _resume_dir(name: str, output: Path | None) -> Path:
    from etbuilder.errors import RunError
    from etbuilder.report.rundir import latest_run_dir

    if output is not None:
        if not (output / "plan.json").is_file():
            raise RunError(
                f"nothing to resume in {output}: it holds no plan.json; run without --resume"
            )
        return output
    found = latest_run_dir(name)
    if found is None:
        raise RunError(
            f"nothing to resume: no run of {name!r} under runs/{name}/; run without --resume"
        )
    return found


def _summary(result: Any, plan: Any) -> str:
    lines = [f"run folder: {result.run_dir}"]
    metric = plan.task.metric
    for split in ("test", "validation"):
        values = result.metrics.get(split)
        if isinstance(values, dict) and isinstance(values.get(metric), int | float):
            lines.append(f"{split} {metric}: {values[metric]:.4f}")
    speed = result.metrics.get("samples_per_s")
    if speed:
        lines.append(
            f"trained {result.metrics.get('steps')} steps in {result.metrics.get('train_seconds')}s"
            f" ({speed} samples/s, stopped: {result.metrics.get('stopped')})"
        )
    return "\n".join(lines)


def run(
    spec: SpecArgument,
    set_: SetOption = None,
    resume: ResumeOption = False,
    output: OutputOption = None,
    quiet: QuietOption = False,
) -> None:
    """Train the spec's model, evaluate it on the test split and write the run report.

    A spec with `tune:` runs its search instead (as `etb tune`)."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.report.rundir import new_run_dir, read_plan
    from etbuilder.runtime.engine import check_runnable, run_plan

    loaded = load(spec, set_)
    if loaded.tune is not None:
        from etbuilder.errors import RunError

        if os.environ.get("RANK") is not None:
            raise RunError(
                "a spec with `tune:` runs its search with `etb tune` (--workers N shares it on "
                "one machine), not under a distributed launcher; remove `tune:` to train once"
            )
        from etbuilder.cli.tune import tune

        tune(spec, set_, output=output, resume=resume, quiet=quiet)
        return
    if resume:
        run_dir = _resume_dir(loaded.name, output)
        plan = read_plan(run_dir)
    else:
        plan = compile_spec(loaded, spec_path=spec)
        check_runnable(plan)
        run_dir = output if output is not None else new_run_dir(plan, create=_is_main_process())
    check_runnable(plan)
    if _is_main_process():
        if resume and set_:
            typer.echo(
                "etb run: --set is ignored with --resume: the run continues with its saved plan",
                err=True,
            )
        if not quiet:
            typer.echo(f"etb run: {plan.spec.name} -> {run_dir}", err=True)
            for warning in plan.warnings:
                typer.echo(f"  warning {warning.code}: {warning.message}", err=True)
    result = run_plan(plan, run_dir, resume=resume, quiet=quiet or not sys.stderr.isatty())
    if not _is_main_process():
        return
    typer.echo(_summary(result, plan))
    if plan.deploy.package:
        from etbuilder.package.builder import build_app

        if not quiet:
            typer.echo("etb run: packaging the app (deploy.package: false skips this)", err=True)
        typer.echo(f"app: {build_app(result.run_dir)}")
