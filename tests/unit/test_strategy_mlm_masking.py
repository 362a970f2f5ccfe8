"""dapt's masking: only ordinary tokens are picked, about the planned share, 80/10/10 split."""

from __future__ import annotations

from typing import Any

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


def _tiny_mlm(kind: str = "bert") -> Any:
    from transformers import BertConfig, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM

    torch.manual_seed(0)
    if kind == "distilbert":
        distil = DistilBertConfig(vocab_size=300, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
        return DistilBertForMaskedLM(distil)
    config = BertConfig(
        vocab_size=300,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertForMaskedLM(config)


def _fixed_batch() -> dict[str, Any]:
    from etbuilder.runtime.strategies.mlm import IGNORE, mask_tokens

    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 300, (6, 20), generator=generator)
    attention = torch.ones_like(ids)
    attention[2:, 14:] = 0  # padded rows
    special = attention == 0
    special[:, 0] = True
    inputs, labels = mask_tokens(
        ids, special, probability=0.3, mask_id=4, vocab_size=300, generator=generator
    )
    assert (labels != IGNORE).sum() > 5
    return {"input_ids": inputs, "attention_mask": attention, "labels": labels}


@pytest.mark.parametrize("kind", ["bert", "distilbert"])
def test_masked_positions_loss_equals_scoring_every_position(kind: str) -> None:
    from etbuilder.runtime.strategies.mlm import IGNORE, mlm_loss, split_mlm

    model = _tiny_mlm(kind).eval()
    assert (split_mlm(model) is not None) == (kind == "bert")  # distilbert: the fallback
    batch = _fixed_batch()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    full = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE
    )
    full.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    loss = mlm_loss(model, batch)
    assert abs(float(loss.detach()) - float(full.detach())) < 1e-5
    loss.backward()
    for name, grad in expected.items():
        assert torch.allclose(model.get_parameter(name).grad, grad, atol=1e-6), name


def test_nothing_masked_gives_a_zero_loss_without_nan_gradients() -> None:
    from etbuilder.runtime.strategies.mlm import IGNORE, mlm_loss

    model = _tiny_mlm()
    batch = _fixed_batch()
    batch["labels"] = torch.full_like(batch["labels"], IGNORE)
    loss = mlm_loss(model, batch)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
