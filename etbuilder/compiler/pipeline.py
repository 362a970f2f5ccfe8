"""Spec -> Plan: the compiler is this ordered list of small pure passes.

Each pass takes a `CompileContext` (the spec plus what earlier passes produced) and returns a
new one; none mutates its input. A pass that finds the spec and data incompatible raises
CompileError, which `compile_spec` tags with the pass's name; DataError and BackboneError are
the user's to fix and pass through unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from etbuilder import __version__
from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.passes.available import refuse_unavailable
from etbuilder.compiler.passes.backbone import resolve_backbone
from etbuilder.compiler.passes.compute import layout_compute
from etbuilder.compiler.passes.data_checks import check_data
from etbuilder.compiler.passes.deploy import plan_deploy
from etbuilder.compiler.passes.estimates import estimate_cost
from etbuilder.compiler.passes.max_length import choose_max_length
from etbuilder.compiler.passes.precision import choose_precision
from etbuilder.compiler.passes.profile import profile_data
from etbuilder.compiler.passes.read_data import read_data
from etbuilder.compiler.passes.schedule import plan_schedule
from etbuilder.compiler.passes.sources import resolve_sources
from etbuilder.compiler.passes.strategy import lower_strategy
from etbuilder.compiler.passes.task import choose_task
from etbuilder.compiler.passes.tune import plan_tune
from etbuilder.compiler.passes.warnings import collect_warnings
from etbuilder.errors import BackboneError, CompileError, DataError, EtbError
from etbuilder.plan import TEACHER_SPEC_SUFFIXES, HardwareInfo, Plan
from etbuilder.spec import Spec
from etbuilder.spec.strategy import DaptStrategy, DistillStrategy

Pass = Callable[[CompileContext], CompileContext]


PASSES: list[Pass] = [
    refuse_unavailable,  # fsdp: stop in one line instead of quietly doing less
    resolve_backbone,  # alias/hub id/folder -> BackboneInfo from config.json, and its tokenizer
    resolve_sources,  # read options per split; carve validation/test from train when missing
    read_data,  # read every file once, check the task's columns, apply the split, fingerprint
    profile_data,  # rows, empty texts, labels, duplicates, overlap, token-length percentiles
    check_data,  # refuse a single class, a class too rare to stratify, unseen held-out labels
    choose_max_length,  # auto: 99% coverage rounded up to 8, capped; count truncated examples
    choose_task,  # label mapping, head, loss, metric (f1_macro when imbalanced), pooling
    lower_strategy,  # trainable groups, frozen modules, LoRA targets, teacher, caches, dapt
    choose_precision,  # auto -> bf16 where native else fp32; fp16 on CPU is an error
    layout_compute,  # processes per node, threads, exact command line per node
    plan_schedule,  # steps/epoch, total steps, warmup, global batch
    estimate_cost,  # parameters, memory per process, FLOPs, time from recorded throughput
    plan_deploy,  # the app: formats, quantization, server limits
    plan_tune,  # tune: the study: space, sampler, pruner, budget, trials it holds
    collect_warnings,  # imbalance, truncation, tiny data, overlap, memory, duplicates, ...
]
"""The compiler, in order."""


def run_passes(ctx: CompileContext, passes: list[Pass] | None = None) -> CompileContext:
    """Run `passes` (default: all) in order, naming the pass in any CompileError."""
    for step in PASSES if passes is None else passes:
        name = step.__name__
        try:
            ctx = step(ctx)
        except (DataError, BackboneError):
            raise
        except CompileError as error:
            if error.pass_name:
                raise
            raise CompileError(str(error), pass_name=name) from None
        except EtbError:
            raise
        except Exception as error:  # a compiler bug: still say where
            raise CompileError(
                f"internal error: {type(error).__name__}: {error}", pass_name=name
            ) from error
        ctx = ctx.replace(passes=(*ctx.passes, name))
    return ctx


def spec_hash(spec: Spec) -> str:
    """sha256 of the spec's canonical JSON."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


def build_plan(ctx: CompileContext) -> Plan:
    """Assemble the Plan from a context every pass has run on."""
    from etbuilder.plan import DataPlan

    return Plan(
        etbuilder_version=__version__,
        spec=ctx.spec,
        spec_hash=spec_hash(ctx.spec),
        backbone=ctx.need("backbone"),
        hardware=ctx.hardware,
        data=DataPlan(
            sources=list(ctx.sources),
            split=ctx.split,
            profiles=list(ctx.profiles),
            train_test_overlap=ctx.train_test_overlap,
            fingerprint=ctx.fingerprint,
        ),
        task=ctx.need("task"),
        strategy=ctx.need("strategy"),
        schedule=ctx.need("schedule"),
        precision=ctx.need("precision"),
        compute=ctx.need("compute"),
        estimates=ctx.need("estimates"),
        deploy=ctx.need("deploy"),
        tune=ctx.tune,
        decisions=list(ctx.decisions),
        warnings=list(ctx.warnings),
        passes=list(ctx.passes),
    )


def compile_spec(
    spec: Spec, *, hardware: HardwareInfo | None = None, spec_path: str | Path | None = None
) -> Plan:
    """Compile `spec` against its data into a Plan (no torch). `hardware` defaults to this
    machine; `spec_path` (the spec file) anchors relative paths and the `etb run` command."""
    if hardware is None:
        from etbuilder.hardware import detect_hardware

        hardware = detect_hardware()
    path = Path(spec_path).resolve() if spec_path is not None else None
    teacher = spec_teacher_plan(spec, path, hardware)
    ctx = CompileContext(spec=spec, hardware=hardware, spec_path=path, teacher_plan=teacher)
    if spec.environment_values:
        ctx = ctx.decide(
            "spec.environment",  # read back by etbuilder.package.disclosure
            spec.environment_values,
            "values read from environment variables that deploy.public_env does not list: "
            "the packaged app shows `${NAME}` in their place",
            "spec",
        )
    return build_plan(run_passes(ctx))


def spec_teacher_plan(spec: Spec, spec_path: Path | None, hardware: HardwareInfo) -> Plan | None:
    """The plan of a distill teacher given as a spec file (None for a run folder teacher, or a
    missing file, which the distill lowering reports); its problems are strategy.teacher's."""
    strategy = spec.strategy.then if isinstance(spec.strategy, DaptStrategy) else spec.strategy
    if not isinstance(strategy, DistillStrategy):
        return None
    path = Path(strategy.teacher).expanduser()
    if not path.is_absolute():
        path = (spec_path.parent if spec_path else Path.cwd()) / path
    if path.suffix not in TEACHER_SPEC_SUFFIXES or not path.is_file():
        return None
    from etbuilder.spec.loader import load_spec

    where = f"strategy.teacher: the teacher spec {path}"
    try:
        teacher = load_spec(path)
    except EtbError as error:
        raise CompileError(f"{where} is not valid:\n{error.render()}", "lower_strategy") from None
    if teacher.tune is not None:
        raise CompileError(
            f"{where} has a `tune:` section; a teacher is trained once: remove `tune:` from it, "
            "or tune it with `etb tune` and point strategy.teacher at the best trial's run folder",
            "lower_strategy",
        )
    inner = teacher.strategy
    inner = inner.then if isinstance(inner, DaptStrategy) else inner
    if isinstance(inner, DistillStrategy) and Path(inner.teacher).suffix in TEACHER_SPEC_SUFFIXES:
        raise CompileError(
            f"{where} distils from a spec itself ({inner.teacher}); train that chain one step "
            "at a time: `etb run` the teacher's spec, then point its strategy.teacher at the run",
            "lower_strategy",
        )
    try:
        return compile_spec(teacher, hardware=hardware, spec_path=path)
    except EtbError as error:
        raise CompileError(
            f"{where} does not compile:\n{error.render()}", "lower_strategy"
        ) from None
