"""`distill`: a student (the backbone, truncated to the planned layers) learns from a finished
teacher run's logits on the training set, computed once and cached, plus the hard labels.

The loop's Trainer trains the student unchanged: the training split's targets carry the teacher
logits (`distill_loss.pack_targets`) and the Trainer's per-task loss is swapped for the
distillation loss. The run's metrics gain a `distill` block comparing student and teacher.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from etbuilder.data import Examples, load_examples
from etbuilder.errors import RunError
from etbuilder.plan import DistillPlan, Plan
from etbuilder.runtime.encode import Encoded, encode_examples, load_fast_tokenizer
from etbuilder.runtime.heads import Head, head_of
from etbuilder.runtime.inference import run_model
from etbuilder.runtime.loop import Trainer
from etbuilder.runtime.models import load_trained
from etbuilder.runtime.strategies.base import planned
from etbuilder.runtime.strategies.distill_loss import DISTILLABLE, distill_loss, pack_targets
from etbuilder.runtime.strategies.feature_cache import features_dir
from etbuilder.runtime.strategies.groups import backbone_prefix
from etbuilder.runtime.trainer_surface import Data
from etbuilder.zoo.architecture import architecture

TEACHER_PASSES = {"count": 0}
"""Teacher passes over the training set in this process (a cache hit adds nothing)."""


def truncate(plan: Plan, model: Any) -> Any:
    """Keep the planned backbone layers (`strategy.student_layers`), in order."""
    if plan.task.type not in DISTILLABLE:
        raise RunError(
            f"strategy distill: {plan.task.type} cannot be distilled yet (supported: "
            f"{', '.join(DISTILLABLE)}); use strategy finetune"
        )
    picked = list(planned(plan, DistillPlan).student_layers)
    base = backbone_prefix(model)
    prefix = architecture(plan.backbone).layer_prefix  # e.g. encoder.layer
    parent_name, _, attr = (f"{base}.{prefix}" if base else prefix).rpartition(".")
    parent: Any = model.get_submodule(parent_name)
    layers = getattr(parent, attr)
    if picked != list(range(len(layers))):
        setattr(parent, attr, nn.ModuleList(layers[i] for i in picked))
        model.config.num_hidden_layers = len(picked)
    return model


def teacher_plan(plan: Plan) -> tuple[Plan, Path]:
    distill = planned(plan, DistillPlan)
    run = Path(distill.teacher)
    if distill.teacher_kind != "run" or not (run / "model").is_dir():
        raise RunError(
            f"strategy.teacher: {run} holds no trained model/; train the teacher first with "
            "`etb run` and point strategy.teacher at its run folder"
        )
    return Plan.from_json((run / "plan.json").read_text(encoding="utf-8")), run


def load_teacher(plan: Plan) -> tuple[Plan, nn.Module, Any]:
    tplan, run = teacher_plan(plan)
    model = load_trained(tplan, run / "model")
    return tplan, model.eval(), load_fast_tokenizer(str(run / "model"))


def _teacher_outputs(
    tplan: Plan, teacher: nn.Module, tokenizer: Any, examples: Examples, device: Any
) -> tuple[np.ndarray, Encoded]:
    encoded = encode_examples(examples, tplan.task, tokenizer)
    outputs = run_model(
        teacher,
        encoded,
        tplan.task,
        batch_size=64,
        pad_id=int(tokenizer.pad_token_id or 0),
        device=device,
    )
    return np.asarray(outputs.values, dtype=np.float32), encoded


def teacher_logits(plan: Plan, train: Examples, device: Any) -> tuple[np.ndarray, str]:
    """The teacher's logits on the training examples (n x outputs), through a disk cache."""
    distill = planned(plan, DistillPlan)
    run = Path(distill.teacher)
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (run / "model").iterdir()]
    key = hashlib.sha256(json.dumps([distill.cache_key, len(train), stamp]).encode()).hexdigest()[
        :32
    ]
    path = features_dir().parent / "teacher" / f"{key}.npy"
    if path.is_file():
        values = np.load(path)
        if len(values) == len(train):
            return values, "hit"
    tplan, teacher, tokenizer = load_teacher(plan)
    values, _ = _teacher_outputs(tplan, teacher.to(device), tokenizer, train, device)
    TEACHER_PASSES["count"] += 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.npy")
        np.save(tmp, values)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
        return values, "written"
    except OSError:
        return values, "unwritable"


def _rows_per_s(model: nn.Module, plan: Plan, encoded: Encoded, pad_id: int, device: Any) -> float:
    start = time.perf_counter()
    run_model(model, encoded, plan.task, batch_size=64, pad_id=pad_id, device=device)
    return round(len(encoded) / max(time.perf_counter() - start, 1e-9), 1)


def comparison(plan: Plan, student: nn.Module, data: Data, device: Any) -> dict[str, Any]:
    """Teacher vs student: test metric of the teacher run, parameters, inference rows/s on the
    validation split (the student timed before training: same architecture, same speed)."""
    tplan, teacher, tokenizer = load_teacher(plan)
    distill = planned(plan, DistillPlan)
    run = Path(distill.teacher)
    metrics_file = run / "metrics.json"
    tmetrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    out: dict[str, Any] = {
        "teacher": str(run),
        "teacher_test": {
            k: v
            for k, v in tmetrics.get("test", {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "n"
        },
        "teacher_backbone": tplan.backbone.name,
        "teacher_train_seconds": tmetrics.get("train_seconds"),
        "teacher_parameters": sum(p.numel() for p in teacher.parameters()),
        "student_parameters": sum(p.numel() for p in student.parameters()),
        "student_layers": list(distill.student_layers),
    }
    if data.validation is not None and data.validation_examples is not None:
        examples = data.validation_examples
        _, tencoded = _teacher_outputs(tplan, teacher.to(device), tokenizer, examples, device)
        pad = int(tokenizer.pad_token_id or 0)
        out["teacher_rows_per_s"] = _rows_per_s(teacher, tplan, tencoded, pad, device)
        out["student_rows_per_s"] = _rows_per_s(student, plan, data.validation, data.pad_id, device)
    return out


def distill_trainer(
    plan: Plan,
    model: nn.Module,
    data: Data,
    run_dir: Path,
    accelerator: Any,
    log: Any,
    *,
    quiet: bool = True,
    lr_scales: Mapping[str, float] | None = None,
) -> Trainer:
    """The loop's Trainer on teacher-packed targets with the distillation loss."""
    train = load_examples(plan)["train"]
    device = accelerator.device
    logits, cache = teacher_logits(plan, train, device)
    if data.train.targets is None or len(logits) != len(data.train):
        raise RunError("strategy distill: the training split has no labels to distil with")
    packed = pack_targets(plan.task, data.train.targets, logits)
    data = dataclasses.replace(data, train=dataclasses.replace(data.train, targets=packed))
    figures = comparison(plan, model, data, device) if accelerator.is_main_process else {}
    distill = planned(plan, DistillPlan)
    trainer = Trainer(
        plan, model, data, run_dir, accelerator, log, quiet=quiet, lr_scales=lr_scales
    )
    trainer.head = Head(
        head_of(plan.task).outputs, distill_loss(distill.temperature, distill.alpha)
    )
    trainer.strategy_figures = {"distill": figures | {"teacher_logits_cache": cache}}
    return trainer
