"""The L-BFGS token head fits on the labelled tokens' vectors only, flat: the same loss as
the padded sentence batches the mini-batch head reads, without the padding's cost."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from etbuilder.errors import RunError
from etbuilder.runtime.encode import IGNORE, Encoded, Side
from etbuilder.runtime.strategies.feature_cache import Features
from etbuilder.runtime.strategies.features import HeadOnly, _batch, _labelled_tokens
from etbuilder.runtime.strategies.lbfgs_head import objective


def _split() -> tuple[Features, Encoded]:
    """Three sentences of 4, 2 and 5 tokens; special tokens and second sub-words untagged."""
    lengths = [4, 2, 5]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    targets = np.array(
        [IGNORE, 1, 2, IGNORE, IGNORE, IGNORE, IGNORE, 0, IGNORE, 2, IGNORE],  # 4 | 2 | 5
        dtype=np.int64,
    )
    ids = np.arange(1, int(offsets[-1]) + 1, dtype=np.int32)
    values = torch.randn(int(offsets[-1]), 5, generator=torch.Generator().manual_seed(0))
    encoded = Encoded([Side(ids, offsets)], token_targets=targets)
    return Features(values, True, "hit"), encoded


def test_only_tagged_tokens_are_kept_in_order_with_their_tags() -> None:
    features, encoded = _split()
    x, y = _labelled_tokens(features, encoded)
    assert y.tolist() == [1, 2, 0, 2]
    assert torch.equal(x, features.values[[1, 2, 7, 9]])


def test_the_flat_objective_is_the_padded_token_loss() -> None:
    features, encoded = _split()
    torch.manual_seed(0)
    head = HeadOnly(nn.Linear(5, 3))

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(**{"input_ids": batch["input_ids"]}).logits
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE
        )

    padded = _batch(features, encoded, np.arange(3), pad_id=0)
    assert padded["input_ids"].shape == (3, 5, 5)  # padding the flat form leaves out
    expected = loss(head, padded).item()
    x, y = _labelled_tokens(features, encoded)
    flat = objective(
        head,
        [{"input_ids": x[:3], "labels": y[:3]}, {"input_ids": x[3:], "labels": y[3:]}],
        loss,
        0.0,
    )
    assert flat.item() == pytest.approx(expected, rel=1e-6)


def test_a_split_without_tags_is_refused_with_a_message() -> None:
    features, encoded = _split()
    encoded.token_targets = None
    with pytest.raises(RunError, match="no token tags"):
        _labelled_tokens(features, encoded)
