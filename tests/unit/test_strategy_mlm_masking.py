"""dapt's masking: only ordinary tokens are picked, about the planned share, 80/10/10 split."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def test_masking_picks_the_planned_share_of_ordinary_tokens() -> None:
    from etbuilder.runtime.strategies.mlm import IGNORE, mask_tokens

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (200, 50))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True  # [CLS]
    special[:, 40:] = True  # padding
    inputs, labels = mask_tokens(
        ids, special, probability=0.15, mask_id=103, vocab_size=30522, generator=generator
    )
    picked = labels != IGNORE
    assert not picked[special].any()
    assert labels[picked].equal(ids[picked])
    share = float(picked.sum()) / float((~special).sum())
    assert 0.13 < share < 0.17
    masked = float((inputs[picked] == 103).sum()) / float(picked.sum())
    kept = float((inputs[picked] == ids[picked]).sum()) / float(picked.sum())
    assert 0.75 < masked < 0.85 and 0.07 < kept < 0.14
    assert inputs[~picked].equal(ids[~picked])
