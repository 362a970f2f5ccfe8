"""Masked-LM batches and loss: BERT-style masking (of the non-special tokens, `probability` are
picked; 80% of those become [MASK], 10% a random token, 10% stay), as transformers'
DataCollatorForLanguageModeling does it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

IGNORE = -100


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids (special tokens included) of each non-empty text, truncated."""
    texts = [t for t in texts if t and t.strip()]
    return list(tokenizer(texts, truncation=True, max_length=max_length)["input_ids"])


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def mask_tokens(
    ids: torch.Tensor,
    special: torch.Tensor,
    *,
    probability: float,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked inputs, labels): labels hold the original id at picked positions, else -100.
    `special` marks positions never picked (special tokens and padding)."""
    picked = (torch.rand(ids.shape, generator=generator) < probability) & ~special
    labels = torch.where(picked, ids, torch.full_like(ids, IGNORE))
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[picked & (roll < 0.8)] = mask_id
    randomise = picked & (roll >= 0.8) & (roll < 0.9)
    inputs[randomise] = torch.randint(vocab_size, ids.shape, generator=generator)[randomise]
    return inputs, labels


def special_mask(tokenizer: Any, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    specials = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    return torch.isin(ids, specials) | (attention == 0)


def mlm_batch(
    tokenizer: Any,
    rows: list[list[int]],
    probability: float,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    pad_id = int(tokenizer.pad_token_id or 0)
    ids, attention = pad(rows, pad_id)
    inputs, labels = mask_tokens(
        ids,
        special_mask(tokenizer, ids, attention),
        probability=probability,
        mask_id=int(tokenizer.mask_token_id),
        vocab_size=len(tokenizer),
        generator=generator,
    )
    return {"input_ids": inputs, "attention_mask": attention, "labels": labels}


def split_mlm(model: nn.Module) -> tuple[nn.Module, nn.Module] | None:
    """(encoder, MLM head) of a transformers masked-LM model whose head is one module applied to
    the encoder's last hidden state (BERT's `cls`, RoBERTa's `lm_head`); None otherwise."""
    encoder = getattr(model, "base_model", None)
    if not isinstance(encoder, nn.Module) or encoder is model:
        return None
    others = [module for _name, module in model.named_children() if module is not encoder]
    return (encoder, others[0]) if len(others) == 1 else None


def mlm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over the masked positions, in fp32.

    The MLM head (transform + vocabulary decoder) scores only the masked positions: about 15%
    of the tokens instead of every one, which is most of a step's cost with a 30k vocabulary.
    The value equals scoring every position and ignoring the unmasked ones. A model whose head
    is not a single module falls back to scoring every position."""
    labels = batch["labels"]
    parts = split_mlm(model)
    if parts is None:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
        )
    encoder, head = parts
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    picked = labels != IGNORE
    if not bool(picked.any()):  # nothing masked: no loss, and no NaN in the gradients
        return hidden.float().sum() * 0.0
    scores = head(hidden[picked])
    return nn.functional.cross_entropy(scores.float(), labels[picked])


@torch.no_grad()
def heldout_loss(
    model: nn.Module,
    tokenizer: Any,
    rows: list[list[int]],
    probability: float,
    *,
    seed: int,
    device: Any = "cpu",
    batch_size: int = 32,
) -> float:
    """The MLM loss on `rows` with a fixed masking (same seed -> same masks): comparable
    before and after training."""
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        batch = mlm_batch(tokenizer, rows[i : i + batch_size], probability, generator)
        masked = int((batch["labels"] != IGNORE).sum())
        if masked:
            loss = mlm_loss(model, {k: v.to(device) for k, v in batch.items()})
            total += float(loss) * masked
            count += masked
    model.train(was_training)
    return total / max(count, 1)
