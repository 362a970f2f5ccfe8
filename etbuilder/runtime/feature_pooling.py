"""Mean or [CLS] pooling in place of BERT's pooler, inside a transformers task model.

A BERT sequence classifier reads its encoder's `pooler_output` (dense + tanh on [CLS]). For a
checkpoint whose pooler was never trained (sentence-transformers models, or weights without
`pooler.*`), the `features` strategy reads the masked mean of the token vectors instead
(`strategy.pooling`, resolved by the compiler). `install_pooling` puts that pooling into the
model itself: a forward hook on the encoder replaces `pooler_output` with the pooled last
hidden state, so the classifier, the feature cache, evaluation, `etb predict` and the ONNX
export all compute the same function. The choice is saved as `etb_pooling` in config.json;
`mlp_head.rebuild_head` re-installs it when etbuilder loads the folder. Plain transformers
loading (without etbuilder) would use the untrained pooler instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from etbuilder.errors import RunError

POOLINGS = ("mean", "cls")
"""The poolings this module installs (pooler, native and tokens need nothing)."""

_HANDLE = "_etb_pooling_handle"


def pool(hidden: torch.Tensor, mask: torch.Tensor | None, mode: str) -> torch.Tensor:
    """`batch x hidden` vectors: the masked mean of the token vectors, or the first token's."""
    if mode == "cls":
        return hidden[:, 0]
    if mask is None:
        return hidden.mean(dim=1)
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def _attention_mask(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    if kwargs.get("attention_mask") is not None:
        return kwargs["attention_mask"]
    return args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else None


def _hook(mode: str) -> Any:
    def replace_pooled(
        _module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> Any:
        hidden = output[0]
        pooled = pool(hidden, _attention_mask(args, kwargs), mode)
        if isinstance(output, tuple):
            return (hidden, pooled, *output[2:])
        return type(output)(**{**dict(output.items()), "pooler_output": pooled})

    return replace_pooled


def install_pooling(model: nn.Module, mode: str | None) -> nn.Module:
    """Make `model`'s classifier read `mode` pooling (mean or cls); other modes change nothing.

    Raises RunError for a model whose encoder has no pooler slot to replace."""
    if mode not in POOLINGS:
        return model
    encoder = getattr(model, "base_model", None)
    if encoder is None or encoder is model or getattr(encoder, "pooler", None) is None:
        raise RunError(
            f"strategy features: pooling {mode!r} needs a BERT-style classifier that reads its "
            f"encoder's pooler; {type(model).__name__} has none. Remove strategy.pooling"
        )
    previous = getattr(encoder, _HANDLE, None)
    if previous is not None:
        previous.remove()
    handle = encoder.register_forward_hook(_hook(mode), with_kwargs=True)
    setattr(encoder, _HANDLE, handle)
    model.config.etb_pooling = mode  # type: ignore[union-attr]
    return model
