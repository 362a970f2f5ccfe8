"""Plan parameter groups (`embeddings`, `encoder.layer.3`, `pooler`, `head`) -> parameter names."""

from __future__ import annotations

from typing import Any

from etbuilder.plan import Plan


def backbone_prefix(model: Any) -> str:
    """The name under which a task model holds its encoder (`bert`, `encoder` of a
    SentenceEncoder), or `` for a bare encoder (a BertModel)."""
    from torch import nn

    from etbuilder.runtime.models import SentenceEncoder

    if isinstance(model, SentenceEncoder):
        return "encoder"
    base = str(getattr(model, "base_model_prefix", "") or "")
    return base if base and isinstance(getattr(model, base, None), nn.Module) else ""


def group_prefixes(model: Any, group: str) -> list[str]:
    """Full parameter-name prefixes (with a trailing dot) of plan group `group` in `model`.

    `head` is every top-level module outside the backbone (`classifier.` of a BERT classifier;
    none for a bare encoder or a SentenceEncoder).
    """
    base = backbone_prefix(model)
    if group != "head":
        return [f"{base}.{group}." if base else f"{group}."]
    if not base:
        return []
    tops = {name.split(".", 1)[0] for name, _ in model.named_parameters()}
    return sorted(f"{top}." for top in tops if top != base)


PEFT_PREFIX = "base_model.model."
"""Where a peft wrapper (LoRA) holds the model it adapts."""


def planned_lr_scales(plan: Plan, model: Any) -> dict[str, float]:
    """Prefix -> lr_scale of every trainable plan group whose scale is not 1 (under a peft
    wrapper, the wrapped model's names: `base_model.model.classifier.`)."""
    inner, outer = model, ""
    if callable(getattr(model, "get_base_model", None)):
        inner, outer = model.get_base_model(), PEFT_PREFIX
    scales: dict[str, float] = {}
    for group in plan.strategy.groups:
        if group.trainable and group.lr_scale != 1.0:
            for prefix in group_prefixes(inner, group.name):
                scales[outer + prefix] = group.lr_scale
    return scales
