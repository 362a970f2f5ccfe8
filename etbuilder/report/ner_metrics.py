"""Entity-level NER metrics, computed exactly as seqeval does in its default mode.

seqeval's default (``mode=None``) is conlleval-compatible and lenient:

* an ``I-X`` that follows ``O`` (or an entity of another type) starts a new ``X`` entity,
  as if it were ``B-X``;
* a change of type ends the current entity and starts a new one (``B-PER I-LOC`` is two
  entities: ``PER`` then ``LOC``);
* ``B-X B-X`` is two entities; ``B-X I-X`` is one;
* IOBES tags (``E-X``, ``S-X``) are understood too.

An entity is ``(type, sentence, first token, last token)``; a predicted entity counts as correct
only when type and both ends match a true entity. Precision, recall and F1 are micro-averaged
over all entities, and also reported per type; a division by zero gives 0.0 (seqeval's
``zero_division=0``). numpy-free: these are counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

Entity = tuple[str, int, int, int]
"""(type, sentence index, first token, last token), both ends inclusive."""


def _split_tag(tag: str) -> tuple[str, str]:
    """Prefix letter and entity type of a tag, as seqeval parses it (no-suffix mode)."""
    prefix = tag[0] if tag else "O"
    entity_type = tag[1:].split("-", maxsplit=1)[-1] or "_"
    return prefix, entity_type


def _ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether an entity ended between the previous and the current token (seqeval's rule)."""
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether an entity starts at the current token (seqeval's rule)."""
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(tags: Sequence[str], sentence: int = 0) -> list[Entity]:
    """The entities of one sentence's tag sequence, in order.

    >>> get_entities(["B-PER", "I-PER", "O", "I-LOC"])
    [('PER', 0, 0, 1), ('LOC', 0, 3, 3)]
    """
    entities: list[Entity] = []
    prev_tag, prev_type, begin = "O", "_", 0
    for i, chunk in enumerate([*tags, "O"]):
        tag, type_ = _split_tag(chunk)
        if _ends(prev_tag, tag, prev_type, type_):
            entities.append((prev_type, sentence, begin, i - 1))
        if _starts(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return entities


def _prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _as_names(seq: Sequence[Any], labels: Sequence[str]) -> list[str]:
    """Tag names; integer tags are indices into `labels`."""
    return [labels[int(t)] if not isinstance(t, str) else t for t in seq]


def ner_metrics(
    y_true: Sequence[Sequence[Any]],
    y_pred: Sequence[Sequence[Any]],
    labels: Sequence[str] = (),
) -> dict[str, Any]:
    """Entity precision/recall/F1 (micro and per type) and token accuracy, as seqeval.

    `y_true` and `y_pred` hold one tag sequence per sentence (tag names, or indices into
    `labels`); each predicted sentence must be as long as its true one.

    Returns ``entity_precision``, ``entity_recall``, ``entity_f1`` (micro over entities),
    ``f1_macro`` and ``f1_weighted`` (over entity types), ``token_accuracy``, ``entities``
    (number of true entities), ``tokens`` and ``per_class``:
    ``{type: {precision, recall, f1, support}}`` sorted by type.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"ner: {len(y_true)} true sentences but {len(y_pred)} predicted ones")
    true_by_type: dict[str, set[Entity]] = defaultdict(set)
    pred_by_type: dict[str, set[Entity]] = defaultdict(set)
    tokens = correct_tokens = 0
    for index, (true_seq, pred_seq) in enumerate(zip(y_true, y_pred, strict=True)):
        true_tags, pred_tags = _as_names(true_seq, labels), _as_names(pred_seq, labels)
        if len(true_tags) != len(pred_tags):
            raise ValueError(
                f"ner: sentence {index} has {len(true_tags)} true tags "
                f"but {len(pred_tags)} predicted ones"
            )
        tokens += len(true_tags)
        correct_tokens += sum(t == p for t, p in zip(true_tags, pred_tags, strict=True))
        for entity in get_entities(true_tags, index):
            true_by_type[entity[0]].add(entity)
        for entity in get_entities(pred_tags, index):
            pred_by_type[entity[0]].add(entity)

    per_class: dict[str, dict[str, float | int]] = {}
    total_tp = total_pred = total_true = 0
    for type_ in sorted(set(true_by_type) | set(pred_by_type)):
        true_set, pred_set = true_by_type.get(type_, set()), pred_by_type.get(type_, set())
        tp = len(true_set & pred_set)
        precision, recall, f1 = _prf(tp, len(pred_set), len(true_set))
        per_class[type_] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": len(true_set),
        }
        total_tp += tp
        total_pred += len(pred_set)
        total_true += len(true_set)

    precision, recall, f1 = _prf(total_tp, total_pred, total_true)
    f1s = [float(row["f1"]) for row in per_class.values()]
    supports = [int(row["support"]) for row in per_class.values()]
    return {
        "entity_precision": precision,
        "entity_recall": recall,
        "entity_f1": f1,
        "f1_macro": sum(f1s) / len(f1s) if f1s else 0.0,
        "f1_weighted": (
            sum(f * s for f, s in zip(f1s, supports, strict=True)) / total_true
            if total_true
            else 0.0
        ),
        "token_accuracy": correct_tokens / tokens if tokens else 0.0,
        "entities": total_true,
        "tokens": tokens,
        "per_class": per_class,
    }
