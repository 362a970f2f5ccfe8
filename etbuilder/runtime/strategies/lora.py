"""`lora` (LoRA and DoRA) through PEFT: adapters on the planned modules, the task head trained
in full (`modules_to_save`), the adapters merged into the base weights before `model/` is saved,
so the saved folder is a plain transformers model that needs no peft to load."""

from __future__ import annotations

from typing import Any

from etbuilder.errors import MissingExtraError, RunError
from etbuilder.plan import LoraPlan, Plan
from etbuilder.runtime.strategies.base import StrategyHooks, planned
from etbuilder.runtime.strategies.groups import group_prefixes


def lora_config(plan: Plan, model: Any) -> Any:
    """The `peft.LoraConfig` of the plan's LoRA record (plan group `head` -> the head modules)."""
    try:
        from peft import LoraConfig
    except ImportError:  # pragma: no cover - peft comes with the train extra
        raise MissingExtraError("peft", "train") from None
    lora = planned(plan, LoraPlan)
    heads = [p.rstrip(".") for p in group_prefixes(model, "head")]
    saved = heads if "head" in lora.modules_to_save else []
    settings: dict[str, Any] = {
        "r": lora.r,
        "lora_alpha": lora.lora_alpha,
        "lora_dropout": lora.lora_dropout,
        "target_modules": list(lora.target_modules),
        "use_dora": lora.use_dora,
        "bias": lora.bias,
        "modules_to_save": saved or None,
    }
    return LoraConfig(**settings)


def add_adapters(plan: Plan, model: Any) -> Any:
    """Wrap the model (the encoder of a SentenceEncoder) with PEFT adapters."""
    from peft import get_peft_model

    from etbuilder.runtime.models import SentenceEncoder

    target = model.encoder if isinstance(model, SentenceEncoder) else model
    try:
        wrapped = get_peft_model(target, lora_config(plan, target))
    except ValueError as error:
        raise RunError(
            f"strategy lora: peft cannot adapt {planned(plan, LoraPlan).target_modules} "
            f"of {plan.backbone.name} ({error}); set strategy.targets to module names of its "
            "layers"
        ) from None
    if isinstance(model, SentenceEncoder):
        model.encoder = wrapped
        return model
    return wrapped


def merge_adapters(plan: Plan, model: Any) -> Any:
    """The trained model with the adapters merged into the weights (peft wrapper removed)."""
    from peft import PeftModel

    from etbuilder.runtime.models import SentenceEncoder

    if isinstance(model, SentenceEncoder):
        if isinstance(model.encoder, PeftModel):
            model.encoder = model.encoder.merge_and_unload()
        return model
    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


LORA = StrategyHooks(prepare_model=add_adapters, export_model=merge_adapters)
