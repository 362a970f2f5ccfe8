"""Pass `choose_precision`: the numeric precision that will really run on this hardware."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError
from etbuilder.plan import HardwareInfo, PrecisionPlan


def uses_gpu(ctx: CompileContext) -> bool:
    """Whether training runs on GPUs: `compute.devices`, or auto and a GPU is present."""
    devices = ctx.spec.compute.devices
    return devices == "cuda" or (devices == "auto" and ctx.hardware.device == "cuda")


def choose_precision(ctx: CompileContext) -> CompileContext:
    """auto -> bf16 where it runs natively, else fp32; fp16 needs a GPU; slow bf16 warns."""
    requested = ctx.spec.train.precision
    hw: HardwareInfo = ctx.hardware
    gpu = uses_gpu(ctx)
    where = f"{hw.device_name} ({'GPU' if gpu else 'CPU'})"
    elsewhere = gpu and hw.device != "cuda"
    if elsewhere:
        ctx = ctx.warn(
            "no_gpu_here",
            "compute.devices is cuda but this machine has no GPU: the plan assumes bf16-capable "
            "GPUs (Ampere or newer) and default throughput; compile on the training machine "
            "for exact precision, memory and time",
        )
    if requested == "auto" and elsewhere:
        used, why, source = (
            "bf16",
            "auto: GPUs of the Ampere generation or newer run bf16",
            "default",
        )
    elif requested == "auto":
        if hw.bf16:
            used, why = "bf16", f"auto: {where} runs bf16 natively"
        else:
            used, why = "fp32", f"auto: {where} has no native bf16, so fp32 is fastest and exact"
        source = "default"
    elif requested == "fp16" and not gpu:
        raise CompileError(
            "train.precision is fp16, but training runs on the CPU, where fp16 mixed precision "
            "is not supported; set train.precision to auto (or bf16/fp32), or "
            "compute.devices: cuda on a machine with a GPU"
        )
    else:
        used, why, source = requested, "set in the spec", "spec"
        if requested == "bf16" and not hw.bf16 and not elsewhere:
            why += f"; {where} has no native bf16: it works, emulated, but slowly"
            ctx = ctx.warn(
                "slow_bf16",
                f"bf16 was requested but {where} has no native bf16 support: training will "
                "run emulated and slower than fp32; use precision: auto",
            )
    plan = PrecisionPlan(requested=requested, used=used, reason=why)
    ctx = ctx.decide("train.precision", used, why, source)  # type: ignore[arg-type]
    return ctx.replace(precision=plan)
