"""`run_plan`: execute a Plan end to end into a run folder.

(a distill run with a spec teacher trains that teacher first, into `run_dir/teacher`) ->
data -> tokens (cached) -> model -> train (resumable) -> best model saved in HF format ->
test evaluation and predictions -> report -> measured throughput recorded for the compiler.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import Plan
from etbuilder.report.rundir import MetricsLog, RunStatus, now_iso, write_atomic
from etbuilder.runtime import checkpoint as ckpt
from etbuilder.runtime import finish, setup, teacher
from etbuilder.runtime.progress import Progress
from etbuilder.runtime.result import RunResult, RunStopped
from etbuilder.runtime.trainer_surface import Data, TrainerSurface

SUPPORTED_STRATEGIES = ("finetune", "freeze", "lora", "features", "distill", "dapt")
"""Strategies this engine runs (the keys of `etbuilder.runtime.strategies.STRATEGIES`)."""


def check_runnable(plan: Plan) -> None:
    """Refuse, before any work, what this engine cannot run yet."""
    kind = plan.strategy.type
    if kind not in SUPPORTED_STRATEGIES:
        raise RunError(
            f"strategy: {kind} cannot run yet: the training engine implements "
            f"{', '.join(SUPPORTED_STRATEGIES)}; {kind} comes with the strategies work. Use "
            "`strategy: {type: finetune}` (or remove the strategy section) to train now"
        )


def prepare_run_dir(plan: Plan, run_dir: Path, *, resume: bool) -> None:
    """spec.yaml and plan.json of a new run; a resumed run keeps those it has."""
    import yaml

    from etbuilder.report.rundir import check_output_dir, claim_output_dir
    from etbuilder.runtime.checkpoint import clean_leftovers

    check_output_dir(run_dir, resume=resume)
    if resume:
        clean_leftovers(run_dir / "checkpoints")
        return
    claim_output_dir(run_dir)
    spec = plan.spec.model_dump(mode="json", exclude_none=True)
    write_atomic(run_dir / "spec.yaml", yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    write_atomic(run_dir / "plan.json", plan.to_json())


def run_plan(
    plan: Plan,
    run_dir: Path,
    *,
    resume: bool = False,
    quiet: bool = False,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Train, evaluate and report `plan` into `run_dir` (continue it when `resume`).

    `on_eval` sees each validation record (step, epoch, `validation/<metric>`); raising
    `RunStopped` from it ends the run as `stopped` (a pruned trial)."""
    check_runnable(plan)
    accelerator = setup.make_accelerator(plan)
    plan = setup.shared_plan(accelerator, plan)
    run_dir = setup.shared_path(accelerator, run_dir)
    main = accelerator.is_main_process
    if main:
        prepare_run_dir(plan, run_dir, resume=resume)
    accelerator.wait_for_everyone()
    status = RunStatus(run_dir)
    if main:
        if resume and status.data.get("state") == "finished":
            raise RunError(f"the run in {run_dir} already finished; start a new one with `etb run`")
        status.start(resumed=resume)
    try:
        with _sigterm_as_interrupt():
            if teacher.trains_teacher(plan):  # a spec teacher: its own run first, in run_dir
                plan = teacher.train_teacher(plan, run_dir, run_plan, quiet=quiet, main=main)
                accelerator = setup.make_accelerator(plan)
            result = _train_and_report(
                plan, run_dir, accelerator, resume=resume, quiet=quiet, on_eval=on_eval
            )
    except RunStopped as stopped:
        if main:
            status.update(state="stopped", finished=now_iso(), stopped=str(stopped))
        raise
    except KeyboardInterrupt:
        if main:
            status.update(state="interrupted", finished=None)
        raise
    except BaseException as error:
        if main:
            status.update(state="failed", error=f"{type(error).__name__}: {error}")
        raise
    if main:
        status.update(state="finished", finished=now_iso(), stopped=result.metrics.get("stopped"))
    return result


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) ends the run as `interrupted`, like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_and_report(
    plan: Plan,
    run_dir: Path,
    accelerator: Any,
    *,
    resume: bool,
    quiet: bool,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    main = accelerator.is_main_process
    setup.seed_everything(plan)
    examples, encoded, tokenizer = setup.load_data(plan)
    plan = setup.before_training(plan, run_dir, examples, accelerator)
    train_ex = examples["train"]
    model, new_weights = setup.build(plan, train_ex)
    latest = ckpt.latest(run_dir / "checkpoints") if resume else None
    if resume and latest is None and (run_dir / "checkpoints").is_dir():
        latest = None  # killed before the first checkpoint: start over in the same folder
    log = MetricsLog(
        run_dir / "metrics.jsonl",
        truncate_after_step=_ckpt_step(latest) if resume else -1,
        enabled=main,
        on_eval=on_eval,
    )
    trains = setup.trains(plan, train_ex)
    trainer: TrainerSurface | None = None
    try:
        if trains:
            data = Data(
                train=encoded["train"],
                validation=encoded.get("validation"),
                validation_examples=examples.get("validation"),
                pad_id=setup.pad_id(tokenizer),
                loss_scale=setup.loss_scale(plan, encoded["train"]),
            )
            trainer = setup.make_trainer(plan, model, data, run_dir, accelerator, log, quiet=quiet)
            if latest is not None:
                trainer.restore(latest)
            progress = Progress(
                trainer.schedule.total_steps,
                enabled=not quiet and main,
                done=trainer.state.step,
            )
            if main and new_weights and not quiet:
                progress.print(f"new weights (trained from scratch): {', '.join(new_weights)}")
            try:
                trainer.fit(progress)
            finally:
                progress.close()
            trainer.load_best()
            model = setup.trained_model(plan, trainer, main=main)
        if not main:
            return RunResult(run_dir, {}, "finished")
        if trains:
            model = setup.export_model(plan, model)
        return finish.finalize(
            plan, run_dir, model, tokenizer, examples, encoded, trainer, accelerator, log
        )
    finally:
        log.close()


def _ckpt_step(folder: Path | None) -> int:
    if folder is None:
        return -1
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    return int(state["train"]["step"])


def default_threads() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
