"""`etb tune`: search the spec's `tune:` space with optuna, then package the best trial."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from etbuilder.cli._common import SetOption, SpecArgument, load

OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Study folder (default: runs/<name>/tune-<timestamp>/)."),
]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the latest study of this spec (or --output DIR): finished trials are "
        "kept, a trial whose process died is failed and retried once.",
    ),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Trials run at once on this machine (they share the study through a journal file).",
    ),
]
JoinOption = Annotated[
    bool,
    typer.Option(
        "--join",
        hidden=True,
        help="Run trials of an existing study only (what --workers starts; no outputs).",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")]

STUDY_FILES = ("study.json", "study.db", "study.journal")
"""A folder with one of these holds a study (--resume); a database URL is resumed by --output."""
STUDY_PREFIX = "tune-"
"""Study folders are `runs/<name>/tune-<timestamp>/`."""


def study_folder(name: str, output: Path | None, resume: bool) -> Path:
    """The study folder: --output, the latest study of `name` on resume, else a new one."""
    from etbuilder.errors import RunError
    from etbuilder.report.rundir import RUNS_ROOT

    if output is not None:
        if resume and not any((output / f).is_file() for f in STUDY_FILES):
            raise RunError(f"nothing to resume in {output}: no study there; run without --resume")
        return output
    root = Path.cwd() / RUNS_ROOT / name
    if resume:
        found = sorted(root.glob(f"{STUDY_PREFIX}*/study.json")) if root.is_dir() else []
        if not found:
            raise RunError(f"nothing to resume: no study of {name!r} under {root}")
        return found[-1].parent
    return root / f"{STUDY_PREFIX}{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def tune(
    spec: SpecArgument,
    set_: SetOption = None,
    output: OutputOption = None,
    resume: ResumeOption = False,
    workers: WorkersOption = 1,
    join: JoinOption = False,
    quiet: QuietOption = False,
) -> None:
    """Search the spec's tune: space within its budget, then package the best trial."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.errors import RunError
    from etbuilder.report.rundir import write_atomic

    loaded = load(spec, set_)
    if loaded.tune is None:
        raise RunError(
            f"{spec} has no `tune:` section: add one (see docs/spec.md), or train once with "
            "`etb run`"
        )
    plan = compile_spec(loaded, spec_path=spec)
    assert plan.tune is not None
    if join and output is None:
        raise RunError("--join needs --output DIR: the folder of the study to join")
    folder = study_folder(loaded.name, output, resume)
    folder.mkdir(parents=True, exist_ok=True)
    if not join:
        write_atomic(folder / "study-plan.json", plan.to_json())
    echo = (
        (lambda _t: None) if quiet or join else (lambda t: typer.echo(f"etb tune: {t}", err=True))
    )
    echo(
        f"{loaded.name} -> {folder} ({plan.tune.sampler}, {plan.tune.pruner} pruner, about "
        f"{plan.tune.expected_trials} of {plan.tune.trials} trials)"
    )
    from etbuilder.runtime.tune.driver import run_study

    worker = [sys.executable, "-m", "etbuilder.cli.main", "tune", spec, "--output", str(folder)]
    worker += [arg for item in set_ or [] for arg in ("--set", item)] + ["--join", "--quiet"]
    result = run_study(
        plan,
        Path(spec),
        folder,
        workers=workers,
        resume=resume,
        join=join,
        worker_command=worker,
        echo=echo,
    )
    if result is None:
        return
    _print_table(result.rows, quiet)
    summary = result.summary
    lines = [
        f"study folder: {folder}",
        f"trials: {summary.trials} ({summary.complete} complete, {summary.pruned} pruned, "
        f"{summary.misfits} did not fit, {summary.failed} failed"
        + (f", {summary.repeated} repeated" if summary.repeated else "")
        + f") in {result.wall_s:.0f} s",
        f"best: trial {summary.best_number}, validation {plan.tune.metric} "
        f"{summary.best_value:.4f}",
    ]
    for key, value in summary.best_test.items():
        if key == plan.tune.metric:
            lines.append(f"test {key}: {value:.4f}")
    lines.append(f"best spec: {folder / 'best.yaml'} (etb run {folder / 'best.yaml'})")
    if result.dashboard:
        lines.append(f"dashboard: {result.dashboard}")
    typer.echo("\n".join(lines))
    packaged = result.best_run
    if packaged is not None and not (packaged / "metrics.json").is_file():
        typer.echo(
            f"the best trial ran in {packaged}, which is not on this machine (a worker "
            "elsewhere joined the study through its database): package it there with "
            f"`etb package`, or train it here with `etb run {folder / 'best.yaml'}`"
        )
        packaged = None
    if plan.tune.refit == "train+validation" and packaged is not None:
        import json

        from etbuilder.runtime.tune.refit import refit

        echo("retraining the best configuration on train + validation (tune.refit)")
        packaged = refit(packaged, folder, quiet=quiet)
        metrics = json.loads((packaged / "metrics.json").read_text(encoding="utf-8"))
        value = (metrics.get("test") or {}).get(plan.task.metric)
        shown = f", test {plan.task.metric} {value:.4f}" if isinstance(value, float) else ""
        typer.echo(f"refit: {packaged}{shown}")
    if plan.deploy.package and packaged is not None:
        from etbuilder.package.builder import build_app

        echo("packaging the best trial (deploy.package: false skips this)")
        typer.echo(f"app: {build_app(packaged, out=folder / 'app')}")


def _print_table(rows: list[tuple[str, ...]], quiet: bool) -> None:
    if quiet:
        return
    from rich.console import Console
    from rich.table import Table

    header, *body = rows
    pretty = Table(title="Trials", title_justify="left")
    for name in header:
        pretty.add_column(name)
    for row in body:
        pretty.add_row(*row)
    Console(stderr=True).print(pretty)
