"""Which text vector the `features` head reads: `strategy.pooling` resolved against the backbone.

`auto` pools the way the checkpoint was trained to be pooled, read from its folder without
loading weights (no torch): a sentence-transformers `1_Pooling/config.json` names the mode
(all-MiniLM-L6-v2: mean; its checkpoint carries an untrained pooler); a checkpoint whose
safetensors hold no `pooler.*` weights has a random pooler, so mean; otherwise the pooler.
Only BERT-style task models read the pooler output; other architectures keep their own head
input (`native`), and token tasks read every token (`tokens`).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from etbuilder.errors import CompileError
from etbuilder.plan import BackboneInfo
from etbuilder.plan.tasks import TASK_RULES

POOLED_MODEL_TYPES = frozenset({"bert"})
"""Model types whose sequence classifier reads the encoder's pooler output."""

Resolved = tuple[str, str, str]
"""(pooling, reason, source): pooling is mean, cls, pooler, native or tokens."""


def resolve_pooling(requested: str, backbone: BackboneInfo, task_type: str) -> Resolved:
    """The pooling the features head reads, why, and whether the spec or a default chose it."""
    if TASK_RULES[task_type].per_token:
        if requested != "auto":
            raise CompileError(
                f"strategy.pooling is {requested!r} but a ner head reads every token; "
                "remove strategy.pooling"
            )
        return "tokens", "a ner head classifies every token vector", "default"
    if backbone.model_type not in POOLED_MODEL_TYPES:
        if requested != "auto":
            raise CompileError(
                f"strategy.pooling is {requested!r} but the {backbone.model_type} classifier of "
                f"{backbone.name} pools on its own; remove strategy.pooling"
            )
        why = f"the {backbone.model_type} classifier reads its own pooled vector"
        return "native", why, "default"
    if requested != "auto":
        return requested, "set in the spec", "spec"
    folder = Path(backbone.path)
    mode = sentence_transformers_pooling(folder)
    if mode is not None:
        return mode, "auto: the sentence-transformers pooling of the checkpoint", "default"
    has_pooler = pooler_weights(folder)
    if has_pooler is False:
        return "mean", "auto: the checkpoint ships no trained pooler weights", "default"
    if has_pooler is None:
        why = "auto: the checkpoint's weights could not be inspected; its pooler is assumed"
        return "pooler", why, "default"
    return "pooler", "auto: the checkpoint ships trained pooler weights", "default"


def sentence_transformers_pooling(folder: Path) -> str | None:
    """mean or cls from a sentence-transformers Pooling module in `folder`, else None."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        entry = next(m for m in modules if str(m.get("type", "")).endswith(".Pooling"))
        config = json.loads((folder / entry["path"] / "config.json").read_text("utf-8"))
    except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
        return None
    if config.get("pooling_mode_cls_token"):
        return "cls"
    return "mean"  # mean, max and sqrt-length modes: mean is the closest the head reads


def pooler_weights(folder: Path) -> bool | None:
    """Whether the safetensors in `folder` hold `pooler.*` weights (None: no readable file)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    try:
        return any(_has_pooler(file) for file in files)
    except (OSError, ValueError, struct.error):
        return None


def _has_pooler(file: Path) -> bool:
    """Read the safetensors header (8-byte length, then JSON of the tensor names)."""
    with file.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    return any(name.startswith("pooler.") or ".pooler." in name for name in header)
