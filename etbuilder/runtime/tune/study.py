"""Drive a study: create or load it, warm-start it, and run trials until `trials` have been
counted, the budget is spent, or no configuration fits what is left.

Workers on one machine take turns (a lock file) to decide whether another trial may start and to
create it, so together they run exactly `tune.trials`. A RUNNING trial whose process is gone (a
SIGKILL, a crash of the machine's worker) is failed and enqueued again once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import HardwareInfo, TunePlan
from etbuilder.runtime.tune.search import contains, make_pruner, make_sampler
from etbuilder.runtime.tune.storage import StudyStorage, open_storage
from etbuilder.runtime.tune.trial import (
    DEFAULTS,
    FAILURE,
    RETRY_OF,
    STRATEGY_BOUND,
    TrialContext,
    TrialFailed,
    compile_trial,
    counted,
    objective,
    process_alive,
)
from etbuilder.spec import Spec

MAX_MISFITS = 3
"""Sampled configurations in a row that do not fit the budget left before the study stops."""
MAX_REPEATS = 5
"""Sampled configurations in a row that repeat a finished trial before the study stops (after
a repeat the next trial is drawn at random, so five in a row mean little new is left)."""
STUDY_FILE = "study.json"
"""The study folder's record: spec, storage, and (once done) the summary."""


@dataclass
class Study:
    """An opened study and its worker's context."""

    study: Any
    storage: StudyStorage
    context: TrialContext
    lock_path: Path | None

    @property
    def tune_plan(self) -> TunePlan:
        return self.context.tune

    @contextlib.contextmanager
    def locked(self) -> Iterator[Callable[[], None]]:
        """Hold the study's lock file (no lock in memory); yields the function that frees it
        early (the trial frees it once it exists in the storage)."""
        handle = open(self.lock_path, "a+") if self.lock_path is not None else None  # noqa: SIM115
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)

        def release() -> None:
            nonlocal handle
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
                handle = None

        try:
            yield release
        finally:
            release()


def open_study(
    spec: Spec,
    spec_path: Path | None,
    tune: TunePlan,
    folder: Path,
    *,
    hardware: HardwareInfo,
    workers: int = 1,
    resume: bool = False,
) -> Study:
    """Create (or load, on resume or for a joining worker) the study in `folder`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = open_storage(tune.storage, folder, workers=workers)
    study, created = _create_or_load(storage, spec.name, tune, spec.train.seed)
    lock = folder / "study.lock" if storage.kind != "memory" else None
    context = TrialContext(
        spec=spec,
        spec_path=spec_path,
        tune=tune,
        hardware=hardware,
        folder=folder,
        deadline=None,
    )
    opened = Study(study, storage, context, lock)
    with opened.locked():
        if created or (storage.kind != "url" and not study.trials):
            study.set_user_attr("started", time.time())
            warm_start(opened)
        elif not resume and storage.kind in ("sqlite", "journal"):
            raise RunError(
                f"{folder} already holds a study; continue it with --resume, or choose another "
                "--output"
            )
    if tune.budget_s is not None:
        context.deadline = time.time() + tune.budget_s - _spent(study)
    return opened


def _create_or_load(
    storage: StudyStorage, name: str, tune: TunePlan, seed: int
) -> tuple[Any, bool]:
    """The study, and whether this process created it. Creating is atomic in the storage (the
    study name is unique), so of the processes that start together on a shared database, one
    creates and warm-starts the study and the others join it."""
    import optuna

    common = {
        "storage": storage.storage,
        "study_name": name,
        "sampler": make_sampler(tune, seed),
        "pruner": make_pruner(tune),
    }
    try:
        return optuna.create_study(direction=tune.direction, **common), True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**common)
        # a seeded sampler would replay the draws of the session that created the study (a
        # resumed or joining worker's first random trials would repeat the first worker's)
        study.sampler = make_sampler(tune, joined_seed(seed, len(study.trials)))
        return study, False


def joined_seed(seed: int, trials: int) -> int:
    """The sampler seed of a worker that loads an existing study: its own stream, from the
    spec's seed, the trials already there and this process."""
    return (seed * 1_000_003 + trials * 7_919 + os.getpid()) % (2**32)


def _spent(study: Any) -> float:
    """Seconds of budget already used: from the study's start to its last finished trial."""
    started = study.user_attrs.get("started")
    ends = [t.datetime_complete.timestamp() for t in study.trials if t.datetime_complete]
    if started is None or not ends:
        return 0.0
    return max(0.0, max(ends) - float(started))


def warm_start(opened: Study) -> None:
    """Trial 0 is the spec's own configuration; then one trial per other strategy choice at that
    strategy's defaults (with the spec's other values), cheapest first by the compiler's
    estimate (not for a grid).

    A warm-start trial samples nothing: the search paths it does not fix (`DEFAULTS`) keep the
    spec's value, or, for a strategy-bound setting in another strategy's trial, that strategy's
    default, so trial 0 is exactly the spec and the others are each strategy at its recipe."""
    tune, study = opened.context.tune, opened.study
    base = {
        d.path: d.base
        for d in tune.space
        if contains(d, d.base)
        and all(str(_base_of(tune, c.path)) in c.values for c in d.conditions)
    }
    if tune.sampler == "grid":
        return
    kinds = next((d for d in tune.space if d.path == "strategy.type"), None)
    own = base if kinds is None or "strategy.type" in base else {}
    if own:
        defaults = _defaults(tune, own)
        try:  # trial 0 keeps the study going when the other strategies do not fit
            plan, _ = compile_trial(opened.context, own)
            opened.context.fit_seconds.append(plan.estimates.seconds_total)
        except Exception:  # the objective records why it does not compile
            pass
        study.enqueue_trial(
            own, user_attrs={"warm_start": "the spec's own values", DEFAULTS: defaults}
        )
    if kinds is None or tune.trials < 2:
        return
    costs = []
    for kind in kinds.choices or []:
        if kind == base.get("strategy.type"):
            continue
        values = {"strategy.type": kind} | {
            p: v
            for p, v in base.items()
            if p != "strategy.type" and p not in STRATEGY_BOUND and _knob_applies(tune, p, kind)
        }
        try:
            plan, _ = compile_trial(opened.context, values)
        except Exception:  # an impossible member: let the sampler find out, once
            continue
        costs.append((plan.estimates.seconds_total, str(kind), values))
        # a queued cheap strategy keeps the study going when the spec's own does not fit
        opened.context.fit_seconds.append(plan.estimates.seconds_total)
    for seconds, kind, values in sorted(costs)[: tune.trials - (1 if own else 0)]:
        study.enqueue_trial(
            values,
            user_attrs={
                "warm_start": f"{kind} at its defaults: ~{seconds:.0f} s",
                DEFAULTS: _defaults(tune, values),
            },
        )


def _defaults(tune: TunePlan, values: dict[str, Any]) -> list[str]:
    """The search paths a warm-start trial with `values` does not sample."""
    return [d.path for d in tune.space if d.path not in values]


def _base_of(tune: TunePlan, path: str) -> Any:
    return next((d.base for d in tune.space if d.path == path), None)


def _knob_applies(tune: TunePlan, path: str, kind: Any) -> bool:
    dimension = next(d for d in tune.space if d.path == path)
    return all(str(kind) in c.values for c in dimension.conditions if c.path == "strategy.type")


def work(opened: Study) -> None:
    """Run trials until the study has its count, its budget is spent, or nothing fits."""
    import optuna

    study, ctx, tune = opened.study, opened.context, opened.tune_plan
    while True:
        with opened.locked() as release:
            reap_dead(study)
            if counted(study.trials) >= tune.trials or _done_grid(study, tune):
                return
            left = ctx.remaining()
            if left is not None and (left <= 1 or ctx.misfits >= MAX_MISFITS):
                return
            if ctx.repeats >= MAX_REPEATS:
                return
            if left is not None and ctx.fit_seconds and left < min(ctx.fit_seconds):
                return
            ctx.release = release
            sampler = study.sampler
            if ctx.repeats and tune.sampler in ("tpe", "cmaes"):
                # the model proposed a finished configuration (it exploits its best region):
                # the next trial is drawn at random, so the budget goes to something new
                study.sampler = optuna.samplers.RandomSampler(
                    seed=joined_seed(ctx.spec.train.seed, len(study.trials))
                )
            try:
                study.optimize(objective(ctx), n_trials=1, catch=(TrialFailed,))
            finally:
                study.sampler = sampler


def _done_grid(study: Any, tune: TunePlan) -> bool:
    return tune.grid_size is not None and len(study.trials) >= tune.grid_size


def reap_dead(study: Any) -> list[int]:
    """Fail the RUNNING trials of this machine whose process is gone; enqueue each once more
    (not a trial that already is a retry). Returns their numbers."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or "pid" not in attrs:
            continue
        if process_alive(int(attrs["pid"]), str(attrs.get("pid_start", ""))):
            continue
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, FAILURE, "its process died (killed)")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if RETRY_OF not in attrs:
            retry = {RETRY_OF: trial.number, DEFAULTS: attrs.get(DEFAULTS) or []}
            study.enqueue_trial(trial.params, user_attrs=retry)
        reaped.append(trial.number)
    return reaped


def write_study_record(folder: Path, record: dict[str, Any]) -> None:
    """Merge `record` into the study folder's study.json."""
    from etbuilder.report.rundir import write_atomic

    path = folder / STUDY_FILE
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    write_atomic(path, json.dumps(current | record, indent=2, default=str) + "\n")
