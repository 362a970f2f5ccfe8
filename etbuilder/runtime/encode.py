"""Examples -> token ids and targets, once per run, cached on disk.

Token ids are stored ragged (one flat int32 array plus row offsets), unpadded: padding happens
per batch (`etbuilder.runtime.batching`). The cache file is keyed by the data fingerprint, the
split, the tokenizer files, max_length and the task's columns and labels, so a second run of the
same spec skips tokenization.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from etbuilder.atomic import atomic_file
from etbuilder.data import Examples
from etbuilder.errors import DataError
from etbuilder.plan import Plan, TaskPlan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.zoo.locate import TOKENIZER_FILES

CACHE_VERSION = 1
"""Bump when the encoding below changes: old cache files are then ignored."""
IGNORE = -100
"""Target of tokens that carry no label (special tokens, non-first sub-words)."""


@dataclass
class Side:
    """The token ids of one text per example (embedding pairs have two sides)."""

    ids: np.ndarray
    """All token ids, concatenated (int32)."""
    offsets: np.ndarray
    """Row i is ids[offsets[i]:offsets[i+1]] (int64, n + 1 entries)."""
    type_ids: np.ndarray | None = None
    """Segment ids aligned with `ids` (int8), for sentence pairs."""

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class Encoded:
    """One split, ready for batching."""

    sides: list[Side]
    targets: np.ndarray | None = None
    """Per example: class index (int64), multi-hot row (float32), or value (float32)."""
    token_targets: np.ndarray | None = None
    """NER: per token (aligned with sides[0].ids), tag index or IGNORE."""
    word_index: np.ndarray | None = None
    """NER: per token, the index of the word it starts, or -1."""
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sides[0].offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per example (the longest side for pairs encoded apart)."""
        return np.max(np.stack([s.lengths for s in self.sides]), axis=0)

    def real_tokens(self) -> int:
        return int(sum(int(s.offsets[-1]) for s in self.sides))


def load_fast_tokenizer(path: str) -> Any:
    """The backbone's fast tokenizer (transformers), quietly."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    return AutoTokenizer.from_pretrained(path, use_fast=True)


def _ragged(rows: list[list[int]], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    flat = np.fromiter((t for r in rows for t in r), dtype=dtype, count=int(offsets[-1]))
    return flat, offsets


def _side(encoding: Any, pairs: bool) -> Side:
    ids, offsets = _ragged(encoding["input_ids"], np.int32)
    types = None
    if pairs and "token_type_ids" in encoding:
        types, _ = _ragged(encoding["token_type_ids"], np.int8)
    return Side(ids, offsets, types)


def align_word_labels(
    word_ids: list[int | None], tags: list[int] | None
) -> tuple[list[int], list[int]]:
    """Targets and word starts per token: the first sub-word of each word gets its tag.

    `word_ids` is the tokenizer's word index per token (None for special tokens). Returns
    (targets, starts): the tag index or IGNORE, and the word index or -1, per token.
    """
    targets: list[int] = []
    starts: list[int] = []
    previous: int | None = None
    for word in word_ids:
        if word is None or word == previous:
            targets.append(IGNORE)
            starts.append(-1)
        else:
            targets.append(tags[word] if tags is not None else IGNORE)
            starts.append(word)
        if word is not None:
            previous = word
    return targets, starts


def encode_examples(examples: Examples, task: TaskPlan, tokenizer: Any) -> Encoded:
    """Tokenize (truncating to task.max_length) and build the task's targets."""
    limit = task.max_length
    labelled = examples.labelled
    rule = TASK_RULES[task.type]
    if rule.per_token:
        return _encode_ner(examples, task, tokenizer)
    if rule.pair_sides == "apart" and examples.pairs is not None:
        first = [a for a, _ in examples.pairs]
        second = [b for _, b in examples.pairs]
        sides = [
            _side(tokenizer(texts, truncation=True, max_length=limit), False)
            for texts in (first, second)
        ]
    elif examples.pairs is not None:
        first = [a for a, _ in examples.pairs]
        second = [b for _, b in examples.pairs]
        enc = tokenizer(first, second, truncation="longest_first", max_length=limit)
        sides = [_side(enc, True)]
    else:
        sides = [_side(tokenizer(list(examples.texts), truncation=True, max_length=limit), False)]
    targets = _targets(examples, task) if labelled else None
    return Encoded(sides, targets)


def _label_index(examples: Examples, task: TaskPlan) -> dict[str, int]:
    return {name: i for i, name in enumerate(task.labels)}


def _unknown(examples: Examples, row: int, value: Any, task: TaskPlan) -> DataError:
    shown = ", ".join(task.labels[:10]) + (" ..." if len(task.labels) > 10 else "")
    return DataError(
        f"label {value!r} is not one the model knows ({shown})",
        file=examples.file,
        row=examples.lines[row] if row < len(examples.lines) else None,
        column=task.label_column,
        hint="list every label under task.labels, or remove the rows with this label",
    )


def _targets(examples: Examples, task: TaskPlan) -> np.ndarray:
    shape = TASK_RULES[task.type].labels
    if shape == "classes":
        index = _label_index(examples, task)
        out = np.empty(len(examples), dtype=np.int64)
        for i, value in enumerate(examples.labels):
            if str(value) not in index:
                raise _unknown(examples, i, value, task)
            out[i] = index[str(value)]
        return out
    if shape == "multi":
        index = _label_index(examples, task)
        hot = np.zeros((len(examples), len(task.labels)), dtype=np.float32)
        for i, names in enumerate(examples.labels):
            for name in names:
                if name not in index:
                    raise _unknown(examples, i, name, task)
                hot[i, index[name]] = 1.0
        return hot
    return np.asarray([float(v) for v in examples.labels], dtype=np.float32)


def _encode_ner(examples: Examples, task: TaskPlan, tokenizer: Any) -> Encoded:
    words = [list(w) for w in examples.words or ()]
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=task.max_length)
    index = _label_index(examples, task)
    targets: list[list[int]] = []
    starts: list[list[int]] = []
    for i in range(len(words)):
        tags = None
        if examples.labelled:
            tags = []
            for tag in examples.labels[i]:
                if tag not in index:
                    raise _unknown(examples, i, tag, task)
                tags.append(index[tag])
        t, s = align_word_labels(enc.word_ids(i), tags)
        targets.append(t)
        starts.append(s)
    flat_targets, _ = _ragged(targets, np.int64)
    flat_starts, _ = _ragged(starts, np.int32)
    return Encoded(
        [_side(enc, False)],
        token_targets=flat_targets if examples.labelled else None,
        word_index=flat_starts,
    )


# ---------------------------------------------------------------------------- the disk cache


def cache_dir() -> Path:
    """`$ETB_CACHE_DIR/tokens` (default `~/.cache/etbuilder/tokens`)."""
    base = os.environ.get("ETB_CACHE_DIR") or str(Path.home() / ".cache" / "etbuilder")
    return Path(base) / "tokens"


def tokenizer_digest(folder: str) -> str:
    """sha256 over the tokenizer files present in the backbone folder."""
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = Path(folder) / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(plan: Plan, split: str, data_digest: str | None = None) -> str:
    """The cache key of one split of a plan (or of a user file, by its own digest)."""
    task = plan.task
    parts = {
        "version": CACHE_VERSION,
        "data": data_digest or plan.data.fingerprint,
        "split": split,
        "tokenizer": tokenizer_digest(plan.backbone.path),
        "max_length": task.max_length,
        "task": [task.type, task.text_columns, task.label_column, task.labels],
        "options": {"separator": task.separator, "tokens": task.tokens, "tags": task.tags},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _save(path: Path, encoded: Encoded) -> None:
    arrays: dict[str, np.ndarray] = {}
    for k, side in enumerate(encoded.sides):
        arrays[f"ids{k}"] = side.ids
        arrays[f"offsets{k}"] = side.offsets
        if side.type_ids is not None:
            arrays[f"types{k}"] = side.type_ids
    for name in ("targets", "token_targets", "word_index"):
        value = getattr(encoded, name)
        if value is not None:
            arrays[name] = value
    with atomic_file(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def _load(path: Path) -> Encoded | None:
    try:
        with np.load(path) as data:
            files = set(data.files)
            sides = []
            k = 0
            while f"ids{k}" in files:
                types = data[f"types{k}"] if f"types{k}" in files else None
                sides.append(Side(data[f"ids{k}"], data[f"offsets{k}"], types))
                k += 1
            if not sides:
                return None
            return Encoded(
                sides,
                data["targets"] if "targets" in files else None,
                data["token_targets"] if "token_targets" in files else None,
                data["word_index"] if "word_index" in files else None,
            )
    except (OSError, ValueError, KeyError):
        return None


def encode_cached(
    plan: Plan, examples: Examples, tokenizer: Any, *, key: str | None = None
) -> Encoded:
    """`encode_examples` through the disk cache (`key` defaults to the plan's split key)."""
    key = key or cache_key(plan, examples.name)
    path = cache_dir() / f"{key}.npz"
    cached = _load(path) if path.is_file() else None
    if cached is not None and len(cached) == len(examples):
        cached.meta["cache"] = "hit"
        return cached
    encoded = encode_examples(examples, plan.task, tokenizer)
    try:
        _save(path, encoded)
        encoded.meta["cache"] = "written"
    except OSError:
        encoded.meta["cache"] = "unwritable"
    return encoded
