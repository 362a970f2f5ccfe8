"""What a run sets up before its first step: threads, accelerator, seeds, data, model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from etbuilder.data import Examples, load_examples
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.rundir import MetricsLog
from etbuilder.runtime.encode import Encoded, encode_cached, load_fast_tokenizer
from etbuilder.runtime.heads import target_scale
from etbuilder.runtime.loop import Trainer
from etbuilder.runtime.models import build_model
from etbuilder.runtime.optim import freeze_modules
from etbuilder.runtime.strategies import hooks_for
from etbuilder.runtime.trainer_surface import Data, TrainerFactory, TrainerSurface

MIXED_PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


def make_accelerator(plan: Plan) -> Any:
    """An Accelerator for the plan's device and precision (DDP when launched by torchrun)."""
    from datetime import timedelta

    import torch
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    threads = plan.compute.threads_per_process
    if threads and threads > 0:
        torch.set_num_threads(threads)
    cpu = plan.hardware.device == "cpu" or not torch.cuda.is_available()
    if not cpu:
        avoid_cudnn_attention()
    _forget_previous_run_precision()
    timeout = InitProcessGroupKwargs(timeout=timedelta(seconds=plan.compute.collective_timeout_s))
    return Accelerator(
        mixed_precision=MIXED_PRECISION[plan.precision.used], cpu=cpu, kwargs_handlers=[timeout]
    )


def avoid_cudnn_attention() -> None:
    """Keep SDPA off its cuDNN backend on a GPU.

    Dynamic padding gives every batch its own sequence length, and cuDNN attention builds a graph
    for each new shape: on an H100 a bf16 minilm-l6 run trained at 569 samples/s with it and
    1,384 without it (flash / memory-efficient kernels), with the same accuracy.
    """
    import torch

    torch.backends.cuda.enable_cudnn_sdp(False)


def _forget_previous_run_precision() -> None:
    """Let a second run in the same process choose its own precision.

    Accelerate keeps its state process-wide and refuses a different `mixed_precision` once set;
    the process group (PartialState) is kept, so this is safe under torchrun too.
    """
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state:
        AcceleratorState._reset_state(reset_partial_state=False)


def shared_path(accelerator: Any, path: Path) -> Path:
    """The main process's `path` on every process (the run folder under torchrun)."""
    if accelerator.num_processes == 1:
        return path
    from accelerate.utils import broadcast_object_list

    holder = [str(path)]
    broadcast_object_list(holder)
    return Path(holder[0])


def shared_plan(accelerator: Any, plan: Plan) -> Plan:
    """The main process's plan on every process.

    Each node of a multi-node job compiles or reads its own copy; training must follow one, so
    the other processes take the main process's (a node whose data or spec differs would
    otherwise train something else silently).
    """
    if accelerator.num_processes == 1:
        return plan
    from accelerate.utils import broadcast_object_list

    holder = [plan.to_json()]
    broadcast_object_list(holder)
    return plan if holder[0] == plan.to_json() else Plan.from_json(holder[0])


def seed_everything(plan: Plan) -> None:
    """Seed python, numpy, torch (and CUDA) from the plan; deterministic kernels on request."""
    import torch
    from accelerate.utils import set_seed

    deterministic = plan.schedule.deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    set_seed(plan.schedule.seed, deterministic=deterministic)


def load_data(plan: Plan) -> tuple[dict[str, Examples], dict[str, Encoded], Any]:
    """Every split's examples, their encodings (through the token cache), and the tokenizer."""
    examples = load_examples(plan)
    tokenizer = load_fast_tokenizer(plan.backbone.path)
    encoded = {name: encode_cached(plan, ex, tokenizer) for name, ex in examples.items()}
    return examples, encoded, tokenizer


def pad_id(tokenizer: Any) -> int:
    value = getattr(tokenizer, "pad_token_id", None)
    return int(value) if value is not None else 0


def before_training(plan: Plan, run_dir: Path, examples: Any, accelerator: Any) -> Plan:
    """The plan the rest of the run trains (dapt: masked-LM first, then its downstream plan)."""
    result = hooks_for(plan).before_training(plan, run_dir, examples, accelerator)
    if result is not plan:
        seed_everything(result)  # the task head starts from the same seed as without the phase
    return result


def build(plan: Plan, train: Examples | None = None) -> tuple[Any, list[str]]:
    """The task model (seeded head initialisation; a new regression head starts at the mean
    of `train`'s labels) and the names of its new weights."""
    model, new = build_model(plan)
    if train is not None:
        start_at_label_mean(plan, model, train, new)
    freeze_modules(model, plan.strategy.frozen_modules)
    return hooks_for(plan).prepare_model(plan, model), new


def start_at_label_mean(plan: Plan, model: Any, train: Examples, new: list[str]) -> float | None:
    """Set the output bias of a newly initialised one-number head to the training labels'
    mean; returns it (None when nothing was set).

    A fresh head predicts about 0, and regression labels on a 0-5 or a price scale sit far from
    0: with a few trainable weights (LoRA, a frozen body, a distilled student) the first
    hundreds of AdamW steps, each of at most the learning rate, go into moving the output to
    the labels' level, and the run early-stops before it learns their order (LoRA on 1,000
    STS-B pairs: 0.11 test spearman from 0, 0.72 from the mean; docs/benchmarks.md)."""
    import torch
    from torch import nn

    from etbuilder.runtime.strategies.groups import group_prefixes

    if TASK_RULES[plan.task.type].labels != "number":
        return None
    values = [float(v) for v in train.labels if isinstance(v, int | float) and np.isfinite(v)]
    if not values:
        return None
    for prefix in group_prefixes(model, "head"):
        if not any(name.startswith(prefix) for name in new):
            continue  # a trained head (a fine-tuned checkpoint) keeps its own bias
        head = model.get_submodule(prefix.rstrip("."))
        linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
        if linears and linears[-1].out_features == 1 and linears[-1].bias is not None:
            mean = float(np.mean(values))
            with torch.no_grad():
                linears[-1].bias.fill_(mean)
            return mean
    return None


def make_trainer(
    plan: Plan,
    model: Any,
    data: Data,
    run_dir: Path,
    accelerator: Any,
    log: MetricsLog,
    *,
    quiet: bool,
) -> TrainerSurface:
    """What trains the model: the loop's Trainer, or the strategy's own (features, distill),
    with the strategy's learning-rate multipliers."""
    hooks = hooks_for(plan)
    factory: TrainerFactory = hooks.make_trainer or Trainer
    scales = hooks.lr_scales(plan, model)
    return factory(plan, model, data, run_dir, accelerator, log, quiet=quiet, lr_scales=scales)


def trained_model(plan: Plan, trainer: TrainerSurface, *, main: bool) -> Any:
    """The trained model, whole, on the main process (None elsewhere under FSDP).

    A sharded model's weights are gathered (every rank takes part) into a freshly built,
    unsharded copy of the task model on rank 0."""
    if not getattr(trainer, "sharded", False):
        return trainer.unwrapped()
    weights = trainer.weights()  # type: ignore[attr-defined]
    if not main:
        return None
    model, _ = build(plan)
    model.load_state_dict(weights)
    return model


def export_model(plan: Plan, model: Any) -> Any:
    """The trained model as `model/` holds it (LoRA adapters merged, wrappers removed)."""
    return hooks_for(plan).export_model(plan, model)


def trains(plan: Plan, train: Examples) -> bool:
    """Whether the run trains at all: an embedding task on single texts is exported as-is."""
    return not (TASK_RULES[plan.task.type].output == "vector" and train.pairs is None)


def loss_scale(plan: Plan, train: Encoded) -> dict[str, float]:
    targets = train.targets if train.targets is not None else None
    return target_scale(plan.task, np.asarray(targets) if targets is not None else None)
