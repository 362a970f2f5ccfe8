"""How values and suggestions read in messages: `'text'`, `[1, 2]`, `did you mean 'x'?`."""

from __future__ import annotations

import difflib
import json
from typing import Any

from etbuilder.spec.task import TASK_SYNONYMS


def show(value: Any, limit: int = 60) -> str:
    """A user's value as it would read in YAML: `'text'`, `3`, `true`, `null`, `[1, 2]`."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = "'" + value + "'"
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


SYNONYMS = {
    "gpu": "cuda",
    "half": "fp16",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float32": "fp32",
    "full": "fp32",
    "fine_tune": "finetune",
    "fine-tune": "finetune",
    "peft": "lora",
    "lr": "learning_rate",
    **TASK_SYNONYMS,
}
"""Words users write for a value or key under another name: suggested before spelling matches."""


def did_you_mean(word: Any, candidates: list[str]) -> str | None:
    """`did you mean 'x'?` for the closest candidate, or None when nothing is close."""
    if not isinstance(word, str) or not candidates:
        return None
    if SYNONYMS.get(word.lower()) in candidates:
        return f"did you mean '{SYNONYMS[word.lower()]}'?"
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f"did you mean '{close[0]}'?" if close else None
