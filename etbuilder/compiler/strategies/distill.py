"""Distillation: a teacher (finished run or spec), a student of evenly spaced layers."""

from __future__ import annotations

from pathlib import Path

from etbuilder.compiler.strategies._common import (
    Lowered,
    LoweringInput,
    cache_key,
    head_group,
    make_plan,
    note,
)
from etbuilder.errors import CompileError
from etbuilder.plan import (
    TEACHER_FOLDER,
    TEACHER_SPEC_SUFFIXES,
    DistillPlan,
    ParameterGroup,
    Plan,
)
from etbuilder.spec.strategy import DistillStrategy
from etbuilder.zoo.architecture import (
    architecture,
    embedding_parameters,
    layer_parameters,
    pooler_parameters,
)


def student_layers(teacher_layers: int, keep: int) -> list[int]:
    """Evenly spaced teacher layers: each student layer stands for a block of teacher layers
    and copies the block's top layer, so the last layer is always kept (6 -> 3: [1, 3, 5])."""
    return [(i + 1) * teacher_layers // keep - 1 for i in range(keep)]


def lower_distill(strategy: DistillStrategy, info: LoweringInput) -> Lowered:
    b = info.backbone
    teacher, teacher_kind = _teacher_source(strategy.teacher, info.base_dir)
    keep = strategy.student_layers or b.layers
    if keep > b.layers:
        raise CompileError(
            f"strategy.student_layers is {keep} but {b.name} has {b.layers} layers; "
            f"use {b.layers} or fewer"
        )
    picked = student_layers(b.layers, keep)
    prefix = architecture(b).layer_prefix
    groups = [ParameterGroup(name="embeddings", parameters=embedding_parameters(b), trainable=True)]
    groups += [
        ParameterGroup(name=f"{prefix}.{i}", parameters=layer_parameters(b), trainable=True)
        for i in range(keep)
    ]
    if pooler_parameters(b):
        groups.append(
            ParameterGroup(name="pooler", parameters=pooler_parameters(b), trainable=True)
        )
    groups.append(head_group(info))
    key = cache_key("teacher-logits", teacher, info.fingerprint, info.max_length)
    if teacher_kind == "spec":
        tplan = info.teacher_plan
        if tplan is None:
            raise CompileError(
                f"strategy.teacher: the teacher spec {teacher} was not compiled; compile the "
                "spec with etbuilder.compiler.pipeline.compile_spec"
            )
        summary = teacher_facts(tplan, Path(teacher), info)
        summary["teacher_seconds"] = tplan.estimates.seconds_total
        epochs = tplan.schedule.epochs
        first = (
            f"train the teacher from spec {teacher} ({tplan.backbone.name}, "
            f"{tplan.strategy.type}, {epochs} epoch{'' if epochs == 1 else 's'}, about "
            f"{tplan.estimates.seconds_total:.0f} s) into the run folder's {TEACHER_FOLDER}/, "
            "with its own metrics and report (a resumed run keeps a finished teacher)"
        )
    else:
        summary = teacher_summary(Path(teacher), info)
        first = f"load the teacher from run {teacher}"
    actions = [
        first,
        f"compute the teacher's logits on the training set once and cache them under key {key}",
        f"build a {keep}-layer student from {b.name}, initialised from layers {picked}",
        f"train the student on {strategy.alpha:g} x soft-target loss (temperature "
        f"{strategy.temperature:g}) + {1 - strategy.alpha:g} x hard-label loss",
    ]
    notes = [
        note("teacher", teacher, f"strategy.teacher resolved to a {teacher_kind}", "spec"),
        note(
            "student_layers",
            picked,
            f"{keep} of {b.layers} layers, evenly spaced: each student layer copies the top "
            "layer of its block of teacher layers"
            + ("" if strategy.student_layers else " (student_layers unset: keep them all)"),
        ),
        note(
            "cache_key",
            key,
            "teacher logits on the training set, keyed by teacher, data fingerprint and max_length",
        ),
    ]
    if teacher_kind == "spec":
        notes.append(
            note(
                "teacher_seconds",
                summary["teacher_seconds"],
                "the teacher stage: the estimate of the teacher spec's own plan on this machine "
                "(counted in estimates.seconds_total)",
            )
        )
    plan = make_plan(
        DistillPlan,
        groups,
        actions,
        teacher=teacher,
        teacher_kind=teacher_kind,
        student_layers=picked,
        temperature=strategy.temperature,
        alpha=strategy.alpha,
        cache_key=key,
        **summary,
    )
    return plan, notes


def _teacher_source(teacher: str, base_dir: Path) -> tuple[str, str]:
    """(absolute path, `run` or `spec`); a missing or unusable source is a CompileError."""
    path = Path(teacher).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.suffix in TEACHER_SPEC_SUFFIXES:
        if not path.is_file():
            raise CompileError(f"strategy.teacher: no spec file at {path}; check the path")
        return str(path), "spec"
    if (path / "plan.json").is_file():
        return str(path), "run"
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if (p / "plan.json").is_file())
        if runs:
            return str(runs[-1]), "run"
    raise CompileError(
        f"strategy.teacher: {path} is neither a run folder holding plan.json nor a spec file; "
        "give a finished run folder (runs/<name>/<timestamp>) or the teacher's spec.yaml"
    )


def teacher_summary(run: Path, info: LoweringInput) -> dict[str, object]:
    """The teacher run's backbone and labels, checked against this task."""
    file = run / "plan.json"
    try:
        plan = Plan.from_json(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CompileError(
            f"strategy.teacher: {file} is not a readable plan ({first}); point at the folder "
            "of a finished `etb run`"
        ) from None
    return teacher_facts(plan, run, info)


def teacher_facts(plan: Plan, where: Path, info: LoweringInput) -> dict[str, object]:
    """The teacher's backbone, layers and parameters, once its task is checked against this one."""
    if plan.task.type != info.task_type:
        raise CompileError(
            f"strategy.teacher: the teacher at {where} is trained for {plan.task.type}, this "
            f"spec is {info.task_type}; distil from a teacher of the same task"
        )
    if plan.task.labels and list(plan.task.labels) != list(info.labels):
        raise CompileError(
            f"strategy.teacher: the teacher's labels {plan.task.labels} differ from this "
            f"task's {list(info.labels)}; set task.labels to the same order in both specs, or "
            "use a teacher trained on the same labels"
        )
    return {
        "teacher_backbone": plan.backbone.name,
        "teacher_layers": plan.backbone.layers,
        "teacher_parameters": plan.estimates.parameters_total,
    }
