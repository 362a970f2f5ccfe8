"""Pass `estimate_cost`: parameters, memory per process, FLOPs and time.

Memory per process: fp32 weights (4 B/param), fp32 gradients of trainable parameters
(4 B), AdamW moments (8 B per trainable parameter), and activations after Korthikanti et al.
2022, "Reducing Activation Recomputation in Large Transformer Models", eq. 1: one layer keeps
s*b*h*(34 + 5*a*s/h) bytes with 16-bit activations (twice that in fp32), for every layer the
backward pass goes through. FSDP divides weights, gradients and optimizer state by the world.

FLOPs (Kaplan et al. 2020): a forward pass costs 2 x parameters per token plus attention
(4*s*h per token per layer); the backward pass twice that for layers whose weights train,
once that for frozen layers gradients flow through (LoRA), nothing for layers below them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.passes.compute import MIN_COLLECTIVE_TIMEOUT_S
from etbuilder.compiler.passes.precision import uses_gpu
from etbuilder.compiler.throughput import lookup
from etbuilder.plan import (
    BackboneInfo,
    DaptPlan,
    DistillPlan,
    DownstreamStrategyPlan,
    Estimates,
    FeaturesPlan,
    FreezePlan,
    LoraPlan,
    StrategyPlan,
    final_strategy,
)
from etbuilder.zoo.architecture import (
    forward_flops_per_token,
    mlm_head_parameters,
)


def sig(value: float, digits: int = 4) -> float:
    """`value` rounded to `digits` significant digits (stable JSON)."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class Passes:
    """How many layers each kind of pass touches during training."""

    trained: int
    """Layers whose weights train: forward + full backward (3x forward)."""
    through: int
    """Frozen layers the gradient flows through (LoRA): forward + input gradients (2x)."""
    forward: int
    """Frozen layers below every trained part: forward only."""


def layer_passes(strategy: DownstreamStrategyPlan, layers: int) -> Passes:
    """Classify the backbone's layers by what training does to them."""
    if isinstance(strategy, FeaturesPlan):
        return Passes(0, 0, 0)  # training reads cached vectors
    if isinstance(strategy, LoraPlan):
        return Passes(0, layers, 0)
    if isinstance(strategy, DistillPlan):
        return Passes(len(strategy.student_layers) or layers, 0, 0)
    if isinstance(strategy, FreezePlan):
        return Passes(layers - strategy.layers, 0, strategy.layers)
    return Passes(layers, 0, 0)


def activation_bytes(b: BackboneInfo, batch: int, length: int, layers: int, fp32: bool) -> int:
    """Korthikanti et al. eq. 1 for `layers` layers: s*b*h*(34 + 5*a*s/h) bytes each."""
    h, a, s = b.hidden_size, b.heads, length
    per_layer = s * batch * h * (34 + 5 * a * s / h)
    return int(per_layer * layers * (2 if fp32 else 1))


def estimate_cost(ctx: CompileContext) -> CompileContext:
    """Fill `estimates` and record the figures that decide whether the run fits."""
    b: BackboneInfo = ctx.need("backbone")
    strategy: StrategyPlan = ctx.need("strategy")
    schedule = ctx.need("schedule")
    compute = ctx.need("compute")
    precision = ctx.need("precision")
    task = ctx.need("task")
    final = final_strategy(strategy)
    total = sum(g.parameters for g in final.groups)
    trainable = final.trainable_parameters
    fp32 = precision.used == "fp32"
    passes = layer_passes(final, b.layers)
    shard = compute.world_size if compute.parallelism == "fsdp" else 1
    length = task.max_length
    activations = activation_bytes(
        b, schedule.batch_size, length, passes.trained + passes.through, fp32
    )
    if passes.forward or isinstance(final, FeaturesPlan):
        activations += activation_bytes(b, schedule.batch_size, length, 1, fp32)
    if isinstance(strategy, DaptPlan):  # the masked-LM phase keeps logits over the vocabulary
        mlm = activation_bytes(b, schedule.batch_size, length, b.layers, fp32)
        mlm += schedule.batch_size * length * b.vocab_size * 4
        activations = max(activations, mlm)
        total_mlm = b.parameters + mlm_head_parameters(b)
        trainable = max(trainable, total_mlm)
    memory = {
        "weights": total * 4 // shard,
        "gradients": trainable * 4 // shard,
        "optimizer": trainable * 8 // shard,
        "activations": activations,
    }
    memory["total"] = sum(memory.values())

    tokens = _tokens(ctx, "train", length)
    eval_tokens = _tokens(ctx, "validation", length)
    per_token = forward_flops_per_token(b, length)
    train_flops = tokens * per_token * (3 * passes.trained + 2 * passes.through + passes.forward)
    train_flops += 6 * tokens * (trainable - _backbone_trainable(final))  # head, adapters
    eval_flops = eval_tokens * per_token * b.layers
    once = _once_flops(ctx, b, final, strategy, per_token, length, schedule.global_batch)

    tp = lookup(
        "cuda" if uses_gpu(ctx) else "cpu",
        ctx.hardware.device_name,
        precision.used,
        parameters=ctx.backbone.parameters if ctx.backbone is not None else None,
    )
    scale = compute.world_size if uses_gpu(ctx) else compute.nodes
    throughput = tp.flops_per_second * scale
    per_epoch = train_flops + eval_flops
    seconds_epoch = per_epoch / throughput
    seconds_total = seconds_epoch * schedule.epochs + once / throughput
    teacher = final.teacher_seconds if isinstance(final, DistillPlan) else None
    seconds_total += teacher or 0.0
    estimates = Estimates(
        parameters_total=total,
        parameters_trainable=final.trainable_parameters,
        memory_bytes=memory,
        flops_per_epoch=sig(per_epoch),
        flops_once=sig(once),
        throughput_flops=sig(throughput),
        seconds_per_epoch=round(seconds_epoch, 1),
        seconds_total=round(seconds_total, 1),
        seconds_teacher=round(teacher or 0.0, 1),
        time_basis=tp.basis + (f", x {scale} processes" if scale > 1 else ""),
    )
    ctx = ctx.decide(
        "estimates.tokens_per_epoch",
        int(tokens),
        "training rows x mean tokens per example after truncation (dynamic padding)",
    )
    ctx = ctx.replace(estimates=estimates)
    return _collective_timeout(ctx, eval_flops / tp.flops_per_second)


def _collective_timeout(ctx: CompileContext, eval_seconds: float) -> CompileContext:
    """The compiler's collective timeout: 4x the estimated validation pass, at least 5 min.

    Rank 0 evaluates alone while the other ranks wait in a collective, so the timeout must
    outlast that pass; beyond it, a rank that stopped answering fails the job."""
    compute = ctx.need("compute")
    if ctx.spec.compute.collective_timeout is not None or compute.world_size == 1:
        return ctx
    seconds = max(MIN_COLLECTIVE_TIMEOUT_S, 60.0 * math.ceil(4 * eval_seconds / 60))
    ctx = ctx.decide(
        "compute.collective_timeout_s",
        seconds,
        f"4 x the estimated validation pass ({eval_seconds:.0f} s, rank 0 alone while the "
        f"others wait), at least {MIN_COLLECTIVE_TIMEOUT_S:.0f} s; a rank silent for longer "
        "fails the job",
    )
    return ctx.replace(compute=compute.model_copy(update={"collective_timeout_s": seconds}))


def _tokens(ctx: CompileContext, split: str, max_length: int) -> float:
    measured = ctx.split_lengths(split)
    profile = ctx.profile(split)
    if measured is None or profile is None or not measured.lengths:
        return 0.0
    mean = sum(min(n, max_length) for n in measured.lengths) / len(measured.lengths)
    return mean * profile.rows


def _backbone_trainable(strategy: StrategyPlan) -> int:
    return sum(
        g.parameters for g in strategy.groups if g.trainable and g.name not in ("head", "lora")
    )


def _once_flops(
    ctx: CompileContext,
    b: BackboneInfo,
    final: DownstreamStrategyPlan,
    strategy: StrategyPlan,
    per_token: float,
    length: int,
    global_batch: int,
) -> float:
    once = 0.0
    if isinstance(final, FeaturesPlan):  # encode every split once
        all_tokens = sum(_tokens(ctx, p.name, length) for p in ctx.profiles)
        once += all_tokens * per_token * b.layers
    if isinstance(
        final, DistillPlan
    ):  # teacher logits on the training set (teacher ~ the backbone)
        once += _tokens(ctx, "train", length) * per_token * b.layers
    if isinstance(strategy, DaptPlan):  # masked-LM steps over full-length sequences
        mlm_tokens = strategy.steps * global_batch * length
        once += mlm_tokens * (3 * per_token * b.layers + 6 * b.hidden_size * b.vocab_size)
    return once
