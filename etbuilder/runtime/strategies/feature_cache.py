"""The frozen backbone's features of one split: computed once, cached on disk.

The features are what the task head reads: the input of the model's head module, captured by a
forward pre-hook while the frozen model runs over the split (BERT: the pooler output, or the
mean or [CLS] vector `feature_pooling` installed, for a classifier; every token's vector for a
tagger). Pooled features are stored as one n x hidden
matrix; token features ragged like the token ids (total tokens x hidden, the split's offsets).
The cache file is keyed by the plan's features cache key (backbone, data fingerprint,
max_length, pooling), the split's token-cache key and the backbone weights' size and mtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from etbuilder.atomic import atomic_file
from etbuilder.plan import FeaturesPlan, Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.runtime.batching import collate, sorted_batches
from etbuilder.runtime.encode import Encoded
from etbuilder.runtime.encode import cache_key as token_cache_key
from etbuilder.runtime.strategies.base import planned

BACKBONE_PASSES = {"count": 0}
"""Splits encoded by the backbone in this process (a cache hit adds nothing)."""


@dataclass
class Features:
    """One split's head inputs: `n x hidden`, or `tokens x hidden` with `encoded` offsets."""

    values: torch.Tensor
    tokens: bool
    cache: str
    """hit, written or unwritable."""


def features_dir() -> Path:
    """`$ETB_CACHE_DIR/features` (default `~/.cache/etbuilder/features`)."""
    base = os.environ.get("ETB_CACHE_DIR") or str(Path.home() / ".cache" / "etbuilder")
    return Path(base) / "features"


def feature_key(plan: Plan, split: str, head: str) -> str:
    """The cache key of `split`'s features read by head module `head`."""
    features = planned(plan, FeaturesPlan)
    weights = [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(Path(plan.backbone.path).glob("*.safetensors"))
        + sorted(Path(plan.backbone.path).glob("*.bin"))
    ]
    parts = {
        "plan": features.cache_key,
        "tokens": token_cache_key(plan, split),
        "head": head,
        "pooling": features.pooling,
        "weights": weights,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


@torch.no_grad()
def compute_features(
    model: nn.Module,
    head: nn.Module,
    encoded: Encoded,
    *,
    tokens: bool,
    batch_size: int,
    pad_id: int,
    device: Any = "cpu",
) -> torch.Tensor:
    """Run the frozen model over `encoded` and collect what `head` receives (fp32, on CPU)."""
    captured: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
    was_training = model.training
    model.eval()
    n = len(encoded)
    per_example: list[torch.Tensor | None] = [None] * n
    lengths = encoded.sides[0].lengths
    try:
        for rows in sorted_batches(encoded.lengths, batch_size):
            batch = collate(encoded, rows, pad_id)
            inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            captured.clear()
            model(**inputs)
            values = captured[-1].float().cpu()
            for i, row in enumerate(rows):
                per_example[row] = values[i, : int(lengths[row])] if tokens else values[i]
    finally:
        hook.remove()
        model.train(was_training)
    BACKBONE_PASSES["count"] += 1
    parts = [v for v in per_example if v is not None]
    if not parts:
        return torch.zeros((0, 0))
    return torch.cat(parts) if tokens else torch.stack(parts)


def cached_features(
    plan: Plan,
    split: str,
    model: nn.Module,
    head: tuple[str, nn.Module],
    encoded: Encoded,
    *,
    pad_id: int,
    device: Any = "cpu",
) -> Features:
    """`compute_features` through the disk cache."""
    tokens = TASK_RULES[plan.task.type].per_token
    path = features_dir() / f"{feature_key(plan, split, head[0])}.pt"
    expected = int(encoded.sides[0].offsets[-1]) if tokens else len(encoded)
    if path.is_file():
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            values = torch.load(path, weights_only=True)
            if isinstance(values, torch.Tensor) and values.shape[0] == expected:
                return Features(values, tokens, "hit")
    values = compute_features(
        model,
        head[1],
        encoded,
        tokens=tokens,
        batch_size=max(8, plan.schedule.batch_size * 2),
        pad_id=pad_id,
        device=device,
    )
    try:
        with atomic_file(path) as handle:
            torch.save(values, handle)
        return Features(values, tokens, "written")
    except OSError:
        return Features(values, tokens, "unwritable")
