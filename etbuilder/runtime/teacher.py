"""The teacher stage of a distill run whose `strategy.teacher` is a spec file.

The run trains the teacher first, as an ordinary run of that spec in `<run>/teacher/` (its own
plan, metrics, report and model; no app), then distils from that folder exactly as from a
teacher run trained earlier. A resumed run keeps a finished teacher and continues an
unfinished one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from etbuilder.errors import RunError
from etbuilder.plan import TEACHER_FOLDER, DistillPlan, Plan, final_strategy
from etbuilder.report.rundir import RunStatus
from etbuilder.runtime.result import RunResult

RunPlan = Callable[..., RunResult]
"""`etbuilder.runtime.engine.run_plan`, which runs the teacher like any plan."""


def trains_teacher(plan: Plan) -> bool:
    """Whether the run trains its teacher first (a spec teacher)."""
    final = final_strategy(plan.strategy)
    return isinstance(final, DistillPlan) and final.teacher_kind == "spec"


def with_teacher_run(plan: Plan, run: Path) -> Plan:
    """`plan` distilling from the finished teacher run at `run`."""
    final = final_strategy(plan.strategy)
    assert isinstance(final, DistillPlan)
    resolved = final.model_copy(update={"teacher": str(run), "teacher_kind": "run"})
    if plan.strategy is final:
        return plan.model_copy(update={"strategy": resolved})
    outer = plan.strategy.model_copy(update={"then": resolved})
    return plan.model_copy(update={"strategy": outer})


def train_teacher(plan: Plan, run_dir: Path, run_plan: RunPlan, *, quiet: bool, main: bool) -> Plan:
    """Train the spec teacher into `run_dir/teacher` with `run_plan` (the engine's; unless
    finished); the plan that distils it."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    final = final_strategy(plan.strategy)
    assert isinstance(final, DistillPlan)
    folder = run_dir / TEACHER_FOLDER
    state = RunStatus(folder).data.get("state") if (folder / "plan.json").is_file() else None
    if state == "finished":
        return with_teacher_run(plan, folder)
    spec_file = Path(final.teacher)
    if not spec_file.is_file():
        raise RunError(
            f"strategy.teacher: the teacher spec {spec_file} is gone; restore it, or point "
            "strategy.teacher at a finished teacher run folder"
        )
    tplan = compile_spec(load_spec(spec_file), hardware=plan.hardware, spec_path=spec_file)
    if main:
        print(
            f"teacher: training {spec_file.name} into {folder} (about "
            f"{final.teacher_seconds or tplan.estimates.seconds_total:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    result = run_plan(tplan, folder, resume=state is not None, quiet=quiet)
    if result.state != "finished":
        raise RunError(f"the teacher run in {folder} ended {result.state}; see its status.json")
    if main:
        print(
            f"teacher: finished in {time.perf_counter() - started:.0f} s; distilling the student",
            file=sys.stderr,
            flush=True,
        )
    return with_teacher_run(plan, folder)
