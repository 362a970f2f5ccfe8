"""The backbone's fast tokenizer without torch, and token counts for length percentiles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from etbuilder.errors import BackboneError
from etbuilder.plan import BackboneInfo

_CLASS_BY_MODEL_TYPE = {
    "bert": "BertTokenizer",
    "electra": "ElectraTokenizer",
    "distilbert": "DistilBertTokenizer",
    "roberta": "RobertaTokenizer",
    "xlm-roberta": "XLMRobertaTokenizer",
    "camembert": "CamembertTokenizer",
    "mpnet": "MPNetTokenizer",
    "albert": "AlbertTokenizer",
    "deberta-v2": "DebertaV2Tokenizer",
}
"""Tokenizer class when tokenizer_config.json names none."""

_BATCH = 2048


def load_tokenizer(info: BackboneInfo) -> Tokenizer:
    """A fresh `tokenizers.Tokenizer` for the backbone, with padding and truncation off.

    Read from tokenizer.json when the folder has one; otherwise built by the transformers
    tokenizer class named in tokenizer_config.json (no torch import), then its fast backend.
    Callers enable truncation/padding themselves (`enable_truncation(max_length)`).
    """
    folder = Path(info.path)
    file = folder / "tokenizer.json"
    if file.is_file():
        try:
            tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:  # the Rust side raises a bare Exception
            raise BackboneError(f"cannot read the tokenizer {file}: {exc}") from None
    else:
        tokenizer = _from_transformers(folder, info.model_type)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _from_transformers(folder: Path, model_type: str) -> Tokenizer:
    import transformers

    class_name = _CLASS_BY_MODEL_TYPE.get(model_type)
    config_file = folder / "tokenizer_config.json"
    if config_file.is_file():
        try:
            named = json.loads(config_file.read_text(encoding="utf-8")).get("tokenizer_class")
        except (OSError, json.JSONDecodeError):
            named = None
        class_name = named or class_name
    cls: Any = getattr(transformers, class_name or "", None)
    if cls is None and class_name and class_name.endswith("Fast"):
        cls = getattr(transformers, class_name[: -len("Fast")], None)
    try:
        if cls is None:  # AutoTokenizer reads config.json and may import torch: last resort
            cls = transformers.AutoTokenizer
        loaded = cls.from_pretrained(str(folder))
    except Exception as exc:  # missing vocab, sentencepiece not installed, ...
        raise BackboneError(
            f"cannot load a tokenizer from {folder}: {type(exc).__name__}: {exc}\n"
            "    hint: the folder needs tokenizer.json, or the vocabulary files of its tokenizer"
        ) from None
    backend = getattr(loaded, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise BackboneError(
            f"the tokenizer in {folder} has no fast (Rust) version; add a tokenizer.json"
        )
    return Tokenizer.from_str(backend.to_str())


def token_lengths(
    tokenizer: Tokenizer | Any,
    texts: Sequence[str | tuple[str, str] | Sequence[str] | None],
    *,
    words: bool = False,
) -> list[int]:
    """Tokens per text (or per `(first, second)` pair), special tokens included, no truncation.

    `words=True`: each item is a list of words (NER tokens), encoded as pre-tokenized input.
    Accepts a `tokenizers.Tokenizer` or a transformers fast tokenizer. Missing texts count as
    empty strings.
    """
    backend = tokenizer if isinstance(tokenizer, Tokenizer) else tokenizer.backend_tokenizer
    if backend.truncation is not None or backend.padding is not None:
        backend = Tokenizer.from_str(backend.to_str())
        backend.no_truncation()
        backend.no_padding()
    inputs: list[Any] = (
        [[str(w) for w in (t or [])] for t in texts] if words else [_clean(t) for t in texts]
    )
    lengths: list[int] = []
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    for start in range(0, len(inputs), _BATCH):
        batch = encode(
            inputs[start : start + _BATCH], is_pretokenized=words, add_special_tokens=True
        )
        lengths.extend(len(encoding.ids) for encoding in batch)
    return lengths


def _clean(text: Any) -> str | tuple[str, str]:
    if isinstance(text, tuple | list):
        if len(text) != 2:
            raise ValueError(f"a text pair needs 2 texts, got {len(text)}")
        return ("" if text[0] is None else str(text[0]), "" if text[1] is None else str(text[1]))
    return "" if text is None else str(text)
