"""`etb run`: compile a spec, train, evaluate on the test split, write the report, package."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from etbuilder.cli._common import SetOption, SpecArgument, load

if TYPE_CHECKING:
    from etbuilder.spec import Spec

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
NodeRankOption = Annotated[
    int | None,
    typer.Option(
        "--node-rank",
        min=0,
        help="This machine's place in a multi-node torchrun job (0 is the first); "
        "`etb plan` prints each node's command.",
    ),
]
MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master",
        metavar="HOST:PORT",
        help="Where the nodes meet (node 0's address): overrides compute.rendezvous.",
    ),
]


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _resume_dir(spec: Spec, output: Path | None) -> Path:
    from etbuilder.errors import RunError
    from etbuilder.report.rundir import check_output_dir, check_same_spec, latest_run_dir

    if output is not None:
        check_output_dir(output, resume=True)
        check_same_spec(output, spec)
        return output
    found = latest_run_dir(spec.name)
    if found is None:
        raise RunError(
            f"nothing to resume: no run of {spec.name!r} under runs/{spec.name}/; run without "
            "--resume"
        )
    check_same_spec(found, spec)
    return found


def resume_meeting_point(
    plan: Any, spec: Spec, master: str | None, *, quiet: bool = True
) -> tuple[Any, str | None]:
    """The saved plan of a run to resume, meeting where the spec now says: `compute.rendezvous`
    may change between a run and its resume (a restarted cluster or first node has a new
    address), so a Ray plan joins the spec's cluster and a torchrun plan meets at the spec's
    address unless --master says another. Returns the plan and the torchrun master."""
    new = spec.compute.rendezvous
    if plan.compute.engine == "ray" and plan.compute.address != new:
        if not quiet:
            typer.echo(
                f"etb run: resuming on {new or 'a local Ray'} (the run started on "
                f"{plan.compute.address or 'a local Ray'})",
                err=True,
            )
        compute = plan.compute.model_copy(update={"address": new})
        return plan.model_copy(update={"compute": compute}), master
    if plan.compute.engine == "torchrun" and master is None and new:
        return plan, new
    return plan, master


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
    node_rank: NodeRankOption = None,
    master: MasterOption = None,
) -> None:
    """Train the spec's model, evaluate it on the test split and write the run report.

    On a torchrun plan this starts torchrun with this node's command (`--node-rank`, `--master`
    for a multi-node job); on a ray plan it runs the training on Ray Train workers. A spec with
    `tune:` runs its search instead (as `etb tune`).
    """
    from etbuilder.cli import torchrun
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.report.rundir import (
        check_output_dir,
        claim_output_dir,
        new_run_dir,
        read_plan,
        release_output_dir,
    )
    from etbuilder.runtime.engine import check_runnable, run_plan

    overrides = [*(set_ or []), *([f"compute.rendezvous={master}"] if master else [])]
    loaded = load(spec, overrides)
    first_node = not node_rank
    if loaded.tune is not None:
        from etbuilder.errors import RunError

        if os.environ.get("RANK") is not None or node_rank is not None:
            raise RunError(
                "a spec with `tune:` runs its search with `etb tune` (--workers N shares it on "
                "one machine), not under a distributed launcher; remove `tune:` to train once"
            )
        from etbuilder.cli.tune import tune

        tune(spec, set_, output=output, resume=resume, quiet=quiet)
        return
    claimed = False
    if resume:
        run_dir: Path | None = _resume_dir(loaded, output) if first_node else output
        plan = read_plan(run_dir) if run_dir is not None else compile_spec(loaded, spec_path=spec)
        plan, master = resume_meeting_point(plan, loaded, master, quiet=quiet)
    else:
        if output is not None and _is_main_process() and first_node:
            check_output_dir(output, resume=False)
            claimed = claim_output_dir(output)
        try:
            plan = compile_spec(loaded, spec_path=spec)
            check_runnable(plan)
        except BaseException:
            if claimed and output is not None:
                release_output_dir(output)
            raise
        run_dir = output
        if run_dir is None and first_node:  # other nodes receive node 0's folder
            run_dir = new_run_dir(plan, create=_is_main_process())
    check_runnable(plan)
    if plan.compute.engine == "torchrun" and not torchrun.under_torchrun():
        if not quiet and first_node:
            typer.echo(f"etb run: {plan.spec.name} -> torchrun -> {run_dir}", err=True)
        torchrun.launch(
            plan, run_dir, node_rank=node_rank, master=master, resume=resume, quiet=quiet
        )
        return
    if node_rank is not None:
        from etbuilder.errors import RunError

        raise RunError(
            f"--node-rank joins a torchrun job, but the plan's engine is {plan.compute.engine}; "
            "set compute.engine: torchrun"
        )
    assert run_dir is not None
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
    quiet_run = quiet or not sys.stderr.isatty()
    if plan.compute.engine == "ray":
        from etbuilder.runtime.ray_engine import run_on_ray

        result = run_on_ray(plan, run_dir, resume=resume, quiet=quiet_run)
    else:
        result = run_plan(plan, run_dir, resume=resume, quiet=quiet_run)
    if not _is_main_process():
        return
    typer.echo(_summary(result, plan))
    package_app(plan, result.run_dir, quiet=quiet)


def package_app(plan: Any, run_dir: Path, *, quiet: bool) -> None:
    """Build the prediction app of a finished run when the plan asks for it (main process)."""
    if plan.deploy.package:
        from etbuilder.package.builder import build_app
        from etbuilder.report.rundir import RunStatus

        if not quiet:
            typer.echo("etb run: packaging the app (deploy.package: false skips this)", err=True)
        try:
            app = build_app(
                run_dir, progress=None if quiet else lambda line: typer.echo(line, err=True)
            )
        except KeyboardInterrupt:
            RunStatus(run_dir).update(state="interrupted", error="interrupted while packaging")
            raise
        except BaseException as error:
            RunStatus(run_dir).update(
                state="failed", error=f"packaging: {type(error).__name__}: {error}"
            )
            raise
        typer.echo(f"app: {app}")
