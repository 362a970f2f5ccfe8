"""Batched inference over an encoded split, and outputs -> predictions, metrics and rows."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from etbuilder.data import Examples
from etbuilder.plan import TaskPlan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.metrics import compute_metrics
from etbuilder.runtime.batching import collate, sorted_batches
from etbuilder.runtime.encode import Encoded
from etbuilder.runtime.heads import head_of


@dataclass
class Outputs:
    """Raw model outputs in example order: logits (n x k), values (n), or token logits."""

    values: np.ndarray | list[np.ndarray]
    loss: float | None = None


@torch.no_grad()
def run_model(
    model: nn.Module,
    encoded: Encoded,
    task: TaskPlan,
    *,
    batch_size: int,
    pad_id: int,
    device: torch.device | str = "cpu",
    autocast: Callable[[], Any] | None = None,
    embed: bool = False,
    loss_scale: dict[str, float] | None = None,
) -> Outputs:
    """Outputs of every example (longest batches first); also the mean loss when labelled.

    `embed=True` returns sentence vectors of the first side instead (embedding task).
    """
    head = head_of(task)
    rule = TASK_RULES[task.type]
    was_training = model.training
    model.eval()
    n = len(encoded)
    per_example: list[Any] = [None] * n
    loss_sum, loss_rows = 0.0, 0
    labelled = encoded.targets is not None or encoded.token_targets is not None
    ctx = autocast or contextlib.nullcontext
    try:
        for rows in sorted_batches(encoded.lengths, batch_size):
            batch = {k: v.to(device) for k, v in collate(encoded, rows, pad_id).items()}
            with ctx():
                if embed:
                    out = model(
                        **{
                            k: batch[k]
                            for k in ("input_ids", "attention_mask", "token_type_ids")
                            if k in batch
                        }
                    ).float()
                else:
                    out = head.outputs(model, batch)
                if labelled and not embed and (not rule.labels_optional or "labels" in batch):
                    if head.loss_of_outputs is not None:  # one forward pass, not two
                        loss = head.loss_of_outputs(out, batch)
                    else:
                        loss = head.loss(model, batch, task, loss_scale or {})
                    loss_sum += float(loss) * len(rows)
                    loss_rows += len(rows)
            values = out.float().cpu().numpy()
            for i, row in enumerate(rows):
                per_example[row] = values[i]
    finally:
        model.train(was_training)
    if rule.per_token and not embed:
        return Outputs(per_example, loss_sum / loss_rows if loss_rows else None)
    stacked = np.stack(per_example) if n else np.zeros((0,), dtype=np.float32)
    return Outputs(stacked, loss_sum / loss_rows if loss_rows else None)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class Decoded:
    """Predictions in the form `compute_metrics` takes, plus per-example display values."""

    y_pred: Any
    scores: Any = None
    shown: list[Any] | None = None
    """Prediction per example for humans: label name, list of names, number, tag list."""
    confidence: list[float] | None = None


def decode(outputs: Outputs, encoded: Encoded, examples: Examples, task: TaskPlan) -> Decoded:
    """Turn raw outputs into predictions."""
    labels = task.labels
    output = TASK_RULES[task.type].output
    if output == "label":
        probs = _softmax(np.asarray(outputs.values, dtype=np.float64))
        pred = probs.argmax(axis=-1)
        conf = probs.max(axis=-1)
        return Decoded(pred, probs, [labels[i] for i in pred], [float(c) for c in conf])
    if output == "labels":
        probs = 1.0 / (1.0 + np.exp(-np.asarray(outputs.values, dtype=np.float64)))
        threshold = task.threshold if task.threshold is not None else 0.5
        hot = (probs > threshold).astype(np.int64)
        shown = [[labels[j] for j in np.flatnonzero(row)] for row in hot]
        return Decoded(hot, probs, shown, [float(p.max()) if p.size else 0.0 for p in probs])
    if output == "entities":
        return _decode_ner(outputs, encoded, examples, labels)
    values = np.asarray(outputs.values, dtype=np.float64).reshape(len(encoded), -1)[:, 0]
    return Decoded(values, None, [float(v) for v in values], None)


def _decode_ner(
    outputs: Outputs, encoded: Encoded, examples: Examples, labels: list[str]
) -> Decoded:
    side = encoded.sides[0]
    assert encoded.word_index is not None
    tags: list[list[str]] = []
    outside = "O" if "O" in labels else labels[0]
    for i, words in enumerate(examples.words or ()):
        row = ["O" if outside == "O" else outside] * len(words)
        logits = np.asarray(outputs.values[i])
        starts = encoded.word_index[side.offsets[i] : side.offsets[i + 1]]
        for position, word in enumerate(starts):
            if word >= 0 and position < len(logits):
                row[int(word)] = labels[int(logits[position].argmax())]
        tags.append(row)
    return Decoded(tags, None, tags, None)


def true_values(encoded: Encoded, examples: Examples, task: TaskPlan) -> Any:
    """The gold values in the form `compute_metrics` takes."""
    if TASK_RULES[task.type].per_token:
        return [list(t) for t in examples.labels]
    return encoded.targets


def split_metrics(
    decoded: Decoded, encoded: Encoded, examples: Examples, task: TaskPlan, loss: float | None
) -> dict[str, Any]:
    """All metrics of one labelled split (and its loss)."""
    y_true = true_values(encoded, examples, task)
    metrics = compute_metrics(
        task.type, y_true, decoded.y_pred, labels=list(task.labels), scores=decoded.scores
    )
    if loss is not None:
        metrics["loss"] = loss
    return metrics


def prediction_rows(decoded: Decoded, examples: Examples, task: TaskPlan) -> list[dict[str, Any]]:
    """One dict per example for the report (see `etbuilder.report.worst_errors`)."""
    rows: list[dict[str, Any]] = []
    tokens = TASK_RULES[task.type].per_token
    for i in range(len(examples)):
        if tokens:
            words = examples.words[i] if examples.words else ()
            row: dict[str, Any] = {"tokens": list(words)}
            if examples.labelled:
                row["tags"] = list(examples.labels[i])
            row["prediction"] = decoded.shown[i] if decoded.shown else None
        else:
            text: Any = list(examples.pairs[i]) if examples.pairs else examples.texts[i]
            row = {"text": text, "line": examples.lines[i] if examples.lines else None}
            if examples.labelled:
                label = examples.labels[i]
                row["label"] = list(label) if isinstance(label, tuple) else label
            row["prediction"] = decoded.shown[i] if decoded.shown else None
            if decoded.confidence is not None:
                row["score"] = decoded.confidence[i]
        rows.append(row)
    return rows
