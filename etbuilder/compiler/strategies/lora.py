"""LoRA / DoRA: adapters on the attention projections of this architecture."""

from __future__ import annotations

from etbuilder.compiler.strategies._common import (
    Lowered,
    LoweringInput,
    backbone_groups,
    head_group,
    make_plan,
    note,
)
from etbuilder.errors import CompileError
from etbuilder.plan import BackboneInfo, LoraPlan, ParameterGroup
from etbuilder.spec.strategy import LoraStrategy
from etbuilder.zoo.architecture import ARCHITECTURES, architecture, module_shapes


def lora_targets(strategy: LoraStrategy, backbone: BackboneInfo) -> tuple[list[str], str]:
    """The adapted module names and why."""
    arch = architecture(backbone)
    if strategy.targets != "auto":
        unknown = [t for t in strategy.targets if module_shapes(backbone, t) is None]
        if unknown and backbone.model_type in ARCHITECTURES:
            raise CompileError(
                f"strategy.targets names {unknown}, which {backbone.model_type} layers do not "
                f"have; use some of: {', '.join(sorted(arch.linear_shapes))}"
            )
        return list(strategy.targets), "set in the spec"
    if not arch.lora_targets:
        raise CompileError(
            f"no default LoRA targets for model_type {backbone.model_type!r}; set "
            "strategy.targets to the attention projection module names (e.g. [query, value])"
        )
    return list(
        arch.lora_targets
    ), f"auto: the attention query and value projections of {backbone.model_type}"


def lora_parameters(targets: list[str], backbone: BackboneInfo, r: int, dora: bool) -> int:
    """Sum over layers and targets of r * (in + out) (+ out magnitudes for DoRA)."""
    h = backbone.hidden_size
    per_layer = 0
    for name in targets:
        for fan_in, fan_out in module_shapes(backbone, name) or ((h, h),):
            per_layer += r * (fan_in + fan_out) + (fan_out if dora else 0)
    return per_layer * backbone.layers


def lower_lora(strategy: LoraStrategy, info: LoweringInput) -> Lowered:
    b = info.backbone
    targets, why = lora_targets(strategy, b)
    dora = strategy.variant == "dora"
    adapters = lora_parameters(targets, b, strategy.r, dora)
    groups = [g.model_copy(update={"trainable": False}) for g in backbone_groups(info)]
    groups += [ParameterGroup(name="lora", parameters=adapters, trainable=True), head_group(info)]
    actions = [
        "load the pretrained backbone and freeze it",
        f"add rank-{strategy.r} {strategy.variant.upper()} adapters to {', '.join(targets)} "
        f"in each of the {b.layers} layers",
        "train the adapters and the task head",
        "merge the adapters into the weights for serving",
    ]
    notes = [
        note("target_modules", targets, why, "spec" if strategy.targets != "auto" else "default"),
        note(
            "lora_parameters",
            adapters,
            f"sum over {b.layers} layers and targets of r x (in + out) with r = {strategy.r}"
            + (" plus one magnitude per output (DoRA)" if dora else ""),
        ),
    ]
    plan = make_plan(
        LoraPlan,
        groups,
        actions,
        use_dora=dora,
        r=strategy.r,
        lora_alpha=strategy.alpha,
        lora_dropout=strategy.dropout,
        target_modules=targets,
        modules_to_save=["head"],
        bias="none",
    )
    return plan, notes
