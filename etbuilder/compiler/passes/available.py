"""Pass `refuse_unavailable`: a spec field this version cannot carry out stops the compile.

The spec language describes a few combinations the runtime does not do. Rather than validate
them and then quietly do something else (train unsharded, start a module that does not exist),
the compiler refuses them first, in one line that names the field and says what to write
instead.
"""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError
from etbuilder.spec import Spec

FSDP_STRATEGIES = ("finetune", "freeze", "lora")
"""Strategies FSDP shards end to end. The others hold a whole model on one device somewhere,
which is what FSDP is for avoiding: features encodes the data with the whole backbone (then
trains a head too small to shard), distill runs the whole teacher over the training set, dapt
trains its masked-LM phase in one process."""


def unavailable(spec: Spec) -> list[str]:
    """The refusals that apply to `spec` (empty when it asks for nothing unavailable)."""
    compute = spec.compute
    if compute.parallelism != "fsdp":
        return []
    refused = []
    if compute.engine != "torchrun":
        refused.append(
            f"`compute.parallelism: fsdp` runs on torchrun in this version, not on engine "
            f"{compute.engine}: use `compute.engine: torchrun`, or `parallelism: ddp`"
        )
    if spec.strategy.type not in FSDP_STRATEGIES:
        refused.append(
            f"`compute.parallelism: fsdp` shards the strategies {', '.join(FSDP_STRATEGIES)}; "
            f"strategy {spec.strategy.type} runs a whole model in one process (not sharded): "
            "use `compute.parallelism: ddp` with it"
        )
    if spec.train.precision == "fp16":
        refused.append(
            "`compute.parallelism: fsdp` with `train.precision: fp16` needs a sharded gradient "
            "scaler this version does not use: use `train.precision: bf16` (or fp32)"
        )
    return refused


def refuse_unavailable(ctx: CompileContext) -> CompileContext:
    """Stop at the first field this version cannot carry out."""
    refused = unavailable(ctx.spec)
    if refused:
        raise CompileError(refused[0])
    return ctx
