"""One trial: sample the space, write the values into the spec, validate and compile it, check
that it fits in what is left of the budget, then run it as an ordinary run in its own folder."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etbuilder.errors import EtbError, SpecError
from etbuilder.plan import HardwareInfo, Plan, TunePlan
from etbuilder.runtime.result import RunStopped
from etbuilder.runtime.tune.search import suggest
from etbuilder.spec import Spec
from etbuilder.spec.tune_space import applies, apply_values

FAILURE = "failure"
"""User attribute: why a trial failed (invalid combination, out of memory, NaN, a crash)."""
SKIPPED = "skipped"
"""User attribute: why a trial never trained (its estimate did not fit the budget left)."""
RETRY_OF = "retry_of"
"""User attribute: the number of the trial (whose process died) this one repeats."""
DEFAULTS = "defaults"
"""User attribute of a warm-start trial: the search paths it does not sample; the trial takes
them from the spec, or from its strategy's recipe (`STRATEGY_BOUND`)."""
SAME_AS = "same_as"
"""User attribute of a skipped trial: the finished trial whose configuration it repeats."""
CONFIG = "config"
"""User attribute: a digest of what the trial's plan trains (`configuration`)."""
FEATURES_KEY = "features_key"
"""User attribute of a `features` trial whose run cached its vectors: the plan's features cache
key (backbone, data, max_length, pooling); a later trial with the same key reads the cache."""
EFFECTIVE = "effective"
"""User attribute: what the compiler chose for the strategy-bound settings no one sampled."""

STRATEGY_BOUND = ("train.learning_rate", "train.epochs", "train.warmup")
"""Settings whose useful value depends on the strategy (compiler.recipes). A value the spec
writes for one of them belongs to the spec's own `strategy.type`: a trial that samples another
strategy, and not this setting, leaves it unset, so the compiler gives it that strategy's
default. A sampled value always wins."""


class TrialFailed(Exception):
    """A trial that ends as FAIL with a reason; the study goes on."""


@dataclass
class TrialContext:
    """What every trial of one worker shares."""

    spec: Spec
    """The spec as loaded (absolute paths, overrides applied), `tune:` included."""
    spec_path: Path | None
    tune: TunePlan
    hardware: HardwareInfo
    folder: Path
    deadline: float | None
    """`time.time()` after which no trial may still train (None: no budget)."""
    release: Callable[[], None] = lambda: None
    """Called once the trial exists in the storage (frees the other workers)."""
    fit_seconds: list[float] = field(default_factory=list)
    """Estimated seconds of every configuration compiled so far."""
    misfits: int = 0
    """Trials in a row whose estimate did not fit."""
    repeats: int = 0
    """Sampled configurations in a row that repeat a finished trial."""
    slowdowns: list[float] = field(default_factory=list)
    """Measured / estimated seconds of this worker's trials that ran to the end: the machine
    may be slower than the throughput the compiler assumes (other work on its cores)."""

    def slowdown(self) -> float:
        """How much slower than estimated trials run here: the median measured ratio, at
        least 1 (a faster machine does not stretch the budget)."""
        if not self.slowdowns:
            return 1.0
        ordered = sorted(self.slowdowns)
        return max(1.0, ordered[len(ordered) // 2])

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()


SOLVER_FREE = ("train.learning_rate", "train.epochs")
"""Settings an exactly solved head does not have: a features trial with a linear head and the
automatic solver is fitted by L-BFGS, and a sampled learning rate or epoch count would switch it
to mini-batch AdamW (a worse head: 0.40 against 0.93 validation accuracy in the gallery's
AutoML study). Such a trial does not sample them; `strategy.solver: adamw` in the spec (or the
space) brings them back."""


def sample(
    trial: Any, tune: TunePlan, skip: frozenset[str] = frozenset(), spec: Spec | None = None
) -> dict[str, Any]:
    """The trial's values; a knob whose condition its member choice fails is not sampled, nor
    one in `skip` (a warm-start trial's defaults), nor a `SOLVER_FREE` setting in a trial whose
    head is solved exactly (given `spec`, the study's own spec)."""
    chosen: dict[str, Any] = {}
    for dimension in tune.space:
        conds = [(c.path, c.values) for c in dimension.conditions]
        if dimension.path in skip or not applies(conds, chosen):
            continue
        if dimension.path in SOLVER_FREE and spec is not None and exact_head(spec, chosen):
            continue
        chosen[dimension.path] = suggest(trial, dimension)
    return chosen


def exact_head(spec: Spec, chosen: dict[str, Any]) -> bool:
    """Whether the trial's head is a features head solved by L-BFGS: linear, with the solver
    `lbfgs`, or `auto` and no learning rate or epochs written in the spec's own features
    strategy (which would make `auto` pick AdamW)."""
    own = spec.strategy.model_dump() if spec.strategy is not None else {}
    kind = str(chosen.get("strategy.type", own.get("type")))
    same = kind == str(own.get("type"))

    def value(key: str, default: str) -> str:
        return str(chosen.get(f"strategy.{key}", own.get(key, default) if same else default))

    if kind != "features" or value("head", "linear") != "linear":
        return False
    solver = value("solver", "auto")
    written = set(spec.train.model_fields_set) if spec.train is not None else set()
    return solver == "lbfgs" or (
        solver == "auto" and not (same and {"learning_rate", "epochs"} & written)
    )


TRIAL_SPEC = "trial.yaml"
"""In a trial's run folder: its spec as written (the user's keys and the sampled values only),
which `etb run` reproduces; best.yaml is the best trial's copy."""
SPEC_TEXT = "spec"
"""User attribute: the trial's spec text too, so a worker on another machine (a shared
database) can write best.yaml without the trial's folder."""


def trial_yaml(spec: Spec, values: dict[str, Any]) -> str:
    """`spec` without `tune:`, with `values` written in: only the keys the user wrote or the
    trial sampled, so defaults of one strategy never leak into another. In a trial of another
    strategy than the spec's own, the spec's strategy-bound settings (`STRATEGY_BOUND`) that the
    trial does not sample are left out, each with a comment saying so."""
    import yaml

    data = spec.model_dump(mode="json", exclude_unset=True)
    data.pop("tune", None)
    own = str(spec.strategy.type)
    chosen = str(values.get("strategy.type", own))
    notes = []
    if chosen != own:
        for path in STRATEGY_BOUND:
            if path in values:
                continue
            removed = _pop_path(data, path)
            if removed is not None:
                notes.append(
                    f"# {path} {removed} is the spec's value for {own}: this {chosen} trial "
                    f"leaves it unset (the compiler's {chosen} default)\n"
                )
    text = yaml.safe_dump(apply_values(data, values), sort_keys=False, allow_unicode=True)
    return "".join(notes) + text


def _pop_path(data: dict[str, Any], path: str) -> Any:
    """Remove dotted `path` from mapping `data`; returns the value it held (None: absent)."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    return node.pop(last, None) if isinstance(node, dict) else None


def effective_values(plan: Plan, values: dict[str, Any]) -> dict[str, Any]:
    """What the compiled trial trains with for the strategy-bound settings it did not sample
    (the spec's value or the strategy's default; `lbfgs` where an L-BFGS head has none)."""
    from etbuilder.plan import lbfgs_head

    lbfgs = lbfgs_head(plan.strategy) is not None
    found: dict[str, Any] = {}
    if "train.learning_rate" not in values:
        found["train.learning_rate"] = "lbfgs" if lbfgs else plan.schedule.learning_rate
    if "train.epochs" not in values:
        found["train.epochs"] = "lbfgs" if lbfgs else plan.schedule.epochs
    return found


def trial_spec(text: str, spec_path: Path | None) -> Spec:
    """The trial's spec, validated like a spec file."""
    from etbuilder.spec.loader import load_spec_text

    base = spec_path.parent if spec_path is not None else None
    return load_spec_text(text, file="<trial>", base_dir=base)


def compile_trial(ctx: TrialContext, values: dict[str, Any]) -> tuple[Plan, str]:
    """The trial's plan (its spec validated and compiled before any training) and spec text."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import check_runnable

    text = trial_yaml(ctx.spec, values)
    spec = trial_spec(text, ctx.spec_path)
    plan = compile_spec(spec, hardware=ctx.hardware, spec_path=ctx.spec_path)
    check_runnable(plan)
    return plan, text


def objective(ctx: TrialContext) -> Callable[[Any], float]:
    """The optuna objective of this worker."""

    def run_trial(trial: Any) -> float:
        import optuna

        ctx.release()
        so_far = [t for t in trial.study.get_trials(deepcopy=False) if t.number <= trial.number]
        if counted(so_far) > ctx.tune.trials:  # workers elsewhere started the last ones
            reason = f"the study already has its {ctx.tune.trials} trials"
            trial.set_user_attr(SKIPPED, reason)
            raise optuna.TrialPruned(reason)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("pid_start", process_start(os.getpid()))
        try:
            values = sample(
                trial, ctx.tune, frozenset(trial.user_attrs.get(DEFAULTS) or ()), ctx.spec
            )
            plan, text = compile_trial(ctx, values)
        except SpecError as error:
            raise _fail(trial, f"invalid combination: {_first_line(error)}") from None
        except EtbError as error:
            raise _fail(trial, f"does not compile: {_first_line(error)}") from None
        trial.set_user_attr(EFFECTIVE, effective_values(plan, values))
        trial.set_user_attr(SPEC_TEXT, text)
        config = configuration(plan)
        trial.set_user_attr(CONFIG, config)
        earlier = trial.study.get_trials(deepcopy=False)
        finished = (t for t in earlier if t.state.name == "COMPLETE")
        same = next((t for t in finished if t.user_attrs.get(CONFIG) == config), None)
        if same is not None:  # a seeded run of the same spec: its result is known
            ctx.repeats += 1
            reason = f"the same configuration as trial {same.number} (validation {same.value:.4g})"
            trial.set_user_attr(SAME_AS, same.number)
            trial.set_user_attr(SKIPPED, reason)
            raise optuna.TrialPruned(reason)
        ctx.repeats = 0
        estimate = cached_estimate(plan, earlier) * ctx.slowdown()
        trial.set_user_attr("estimated_s", round(estimate, 1))
        ctx.fit_seconds.append(estimate)
        left = ctx.remaining()
        if left is not None and estimate > left:
            ctx.misfits += 1
            scaled = f" (x{ctx.slowdown():.2f}: trials ran that much slower than estimated)"
            reason = (
                f"estimated {estimate:.0f} s"
                + (scaled if ctx.slowdown() > 1.0 else "")
                + f" does not fit the {max(left, 0):.0f} s left"
            )
            trial.set_user_attr(SKIPPED, reason)
            raise optuna.TrialPruned(reason)
        ctx.misfits = 0
        if left is not None:
            plan = _capped(plan, left)
        return _train(trial, ctx, plan, text)

    return run_trial


TRAINED_BY = ("backbone", "data", "task", "strategy", "schedule", "precision", "compute")
"""The plan's sections that decide what a run trains and how it scores (not its spec's wording:
a warm start that leaves `strategy.head` at its default and a sampled `head: linear` compile to
the same run)."""


def configuration(plan: Plan) -> str:
    """A digest of the plan's `TRAINED_BY` sections: two trials with the same digest are the
    same seeded run."""
    import hashlib
    import json

    trained = plan.model_dump(mode="json", include=set(TRAINED_BY))
    return hashlib.sha256(json.dumps(trained, sort_keys=True).encode()).hexdigest()[:20]


def cached_estimate(plan: Plan, trials: list[Any]) -> float:
    """The compiler's estimate of `plan`, less the frozen backbone's pass over the data when a
    trial of this study already cached the same features (a head-only trial costs seconds)."""
    from etbuilder.plan import FeaturesPlan, final_strategy

    estimates = plan.estimates
    final = final_strategy(plan.strategy)
    if not isinstance(final, FeaturesPlan) or estimates.throughput_flops <= 0:
        return estimates.seconds_total
    if not any(t.user_attrs.get(FEATURES_KEY) == final.cache_key for t in trials):
        return estimates.seconds_total
    return max(0.1, estimates.seconds_total - estimates.flops_once / estimates.throughput_flops)


def counted(trials: list[Any]) -> int:
    """Trials started that count toward `tune.trials`: all but those still waiting in the
    queue, those never trained for the budget, and those whose dead process was retried."""
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    retried |= {t.system_attrs.get("failed_trial") for t in trials}  # optuna's heartbeat retry
    return sum(
        1
        for t in trials
        if t.state.name != "WAITING"
        and SKIPPED not in t.user_attrs
        and not (t.state.name == "FAIL" and t.number in retried)
    )


def _train(trial: Any, ctx: TrialContext, plan: Plan, text: str) -> float:
    import optuna

    from etbuilder.report.rundir import write_atomic
    from etbuilder.runtime.engine import run_plan

    metric = ctx.tune.metric
    run_dir = ctx.folder / "trials" / f"{trial.number:04d}"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    trial.set_user_attr("run_dir", str(run_dir))
    evaluations = {"n": 0}

    def report(record: dict[str, Any]) -> None:
        value = record.get(f"validation/{metric}")
        if not isinstance(value, int | float) or not math.isfinite(value):
            return
        if "l2" in record:
            # an L-BFGS head's evaluations walk its L2 path from the strongest (always the
            # weakest score) down: not a learning curve a pruner can judge, and the whole
            # path costs seconds
            return
        evaluations["n"] += 1
        trial.report(float(value), evaluations["n"])
        if trial.should_prune():
            raise RunStopped(f"pruned at evaluation {evaluations['n']}: {metric} {value:.4f}")

    started = time.perf_counter()
    try:
        result = run_plan(plan, run_dir, quiet=True, on_eval=report)
    except RunStopped as stopped:
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
        _record_cache(trial, run_dir)  # a pruned features trial read or wrote it all the same
        _record_features(trial, ctx, plan, run_dir)
        raise optuna.TrialPruned(str(stopped)) from None
    except KeyboardInterrupt:
        raise
    except EtbError as error:
        raise _fail(trial, _first_line(error)) from None
    except Exception as error:  # out of memory, a crash inside the run: the study goes on
        raise _fail(trial, _crash_reason(error)) from None
    finally:  # the run folder is etb's until the run ends (it starts empty): the spec goes in last
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run_dir / TRIAL_SPEC, text)
    seconds = time.perf_counter() - started
    trial.set_user_attr("seconds", round(seconds, 1))
    if not result.metrics.get("stopped") and plan.estimates.seconds_total > 0:
        ctx.slowdowns.append(seconds / plan.estimates.seconds_total)
    _record_run(trial, result.metrics, run_dir)
    _record_features(trial, ctx, plan, run_dir)
    validation = result.metrics.get("validation") or {}
    value = validation.get(metric)
    if not isinstance(value, int | float) or not math.isfinite(value):
        loss = validation.get("loss")
        why = "a NaN loss" if isinstance(loss, float) and math.isnan(loss) else "no value"
        raise _fail(trial, f"validation {metric} is {value!r} ({why}): the training diverged")
    return float(value)


def _record_run(trial: Any, metrics: dict[str, Any], run_dir: Path) -> None:
    for key in ("stopped", "steps", "train_seconds"):
        if key in metrics:
            trial.set_user_attr(key, metrics[key])
    test = metrics.get("test")
    if isinstance(test, dict):
        trial.set_user_attr("test", {k: v for k, v in test.items() if _number(v)})
    _record_cache(trial, run_dir)


def _record_cache(trial: Any, run_dir: Path) -> None:
    cache = _feature_cache(run_dir)
    if cache:
        trial.set_user_attr("feature_cache", cache[0])
        trial.set_user_attr("feature_seconds", cache[1])


def _record_features(trial: Any, ctx: TrialContext, plan: Plan, run_dir: Path) -> None:
    """Mark a features trial whose vectors are now cached (`cached_estimate` reads the mark),
    and let the study know that a head-only trial costs that little now: its "nothing fits
    any more" test reads `fit_seconds`."""
    from etbuilder.plan import FeaturesPlan, final_strategy

    final = final_strategy(plan.strategy)
    cache = _feature_cache(run_dir)
    if isinstance(final, FeaturesPlan) and cache is not None and cache[0] in ("hit", "written"):
        trial.set_user_attr(FEATURES_KEY, final.cache_key)
        ctx.fit_seconds.append(cached_estimate(plan, [trial]) * ctx.slowdown())


def _feature_cache(run_dir: Path) -> tuple[str, float] | None:
    """(hit/written, seconds spent on features) of a `features` run, from its metrics log."""
    import json

    log = run_dir / "metrics.jsonl"
    if not log.is_file():
        return None
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "feature_cache" in record:
            return str(record["feature_cache"]), float(record.get("feature_seconds") or 0.0)
    return None


def _capped(plan: Plan, seconds: float) -> Plan:
    """The plan with its training cut at `seconds` (what is left of the study's budget)."""
    current = plan.schedule.time_budget_s
    budget = seconds if current is None else min(current, seconds)
    return plan.model_copy(
        update={"schedule": plan.schedule.model_copy(update={"time_budget_s": max(1.0, budget)})}
    )


def _fail(trial: Any, reason: str) -> TrialFailed:
    trial.set_user_attr(FAILURE, reason)
    return TrialFailed(reason)


def _first_line(error: BaseException) -> str:
    text = error.render() if isinstance(error, EtbError) else str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:2])[:300] if lines else type(error).__name__


def _crash_reason(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    if "out of memory" in text.lower() or isinstance(error, MemoryError):
        return f"out of memory ({text[:200]})"
    return f"crashed: {text[:300]}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def process_alive(pid: int, start: str) -> bool:
    """Whether process `pid`, started at `start`, still runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start and process_start(pid) not in ("", start):
        return False
    state = _process_state(pid)
    return state not in ("Z", "X")


def _process_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]
