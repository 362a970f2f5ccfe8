"""The worst errors of a test set, per task: what a user reads first to see where a model fails.

Prediction rows (one dict per test example) use these keys; common aliases are accepted:

* classification / pair_classification: ``text`` (str, or [first, second] for pairs),
  ``label`` (true label name), ``prediction`` (predicted label name), ``score`` (probability
  of the predicted label).
* multilabel: ``text``, ``label`` and ``prediction`` as lists of label names.
* regression / embedding: ``text``, ``label`` (true value), ``prediction`` (predicted value).
* ner: ``tokens`` (list of str), ``tags`` (true tags), ``prediction`` (predicted tags).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.ner_metrics import get_entities

TRUE_KEYS = ("label", "true", "y_true", "target", "tags", "true_tags")
PRED_KEYS = ("prediction", "predicted", "pred", "y_pred", "predicted_label", "predicted_tags")
SCORE_KEYS = ("score", "confidence", "probability")


def pick(row: Mapping[str, Any], keys: Sequence[str], default: Any = None) -> Any:
    """The value of the first key of `keys` present in `row`."""
    for key in keys:
        if key in row:
            return row[key]
    return default


def as_float(value: Any) -> float | None:
    """`value` as a finite float (numbers and numeric strings), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def cell(value: Any, width: int = 160) -> str:
    """A value made safe for one markdown table cell: one line, pipes escaped, truncated."""
    if isinstance(value, list | tuple):
        value = " ‖ ".join(str(v) for v in value)
    text = f"{value:.4g}" if isinstance(value, float) else " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|").replace("<", "&lt;")


def _text(row: Mapping[str, Any]) -> Any:
    if "text" in row:
        return row["text"]
    if "tokens" in row:
        return " ".join(map(str, row["tokens"]))
    pair = [row[k] for k in ("text_a", "text_b", "first", "second") if k in row]
    return pair or ""


def _table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _classification(rows: Sequence[Mapping[str, Any]], top: int) -> list[str]:
    rows = [r for r in rows if pick(r, TRUE_KEYS) is not None]
    wrong = [r for r in rows if str(pick(r, TRUE_KEYS)) != str(pick(r, PRED_KEYS))]
    wrong.sort(key=lambda r: -float(pick(r, SCORE_KEYS, 0.0) or 0.0))
    if not wrong:
        return ["No wrong prediction on the test set."]
    lines = [
        f"The {min(top, len(wrong))} most confident wrong predictions "
        f"(of {len(wrong)} wrong out of {len(rows)}):",
        "",
    ]
    body = [
        [
            str(i + 1),
            cell(_text(r)),
            cell(pick(r, TRUE_KEYS)),
            cell(pick(r, PRED_KEYS)),
            f"{float(pick(r, SCORE_KEYS, 0.0) or 0.0):.3f}",
        ]
        for i, r in enumerate(wrong[:top])
    ]
    return lines + _table(["#", "text", "true", "predicted", "score"], body)


def _multilabel(rows: Sequence[Mapping[str, Any]], top: int) -> list[str]:
    def labels(value: Any) -> set[str]:
        return {str(v) for v in value} if isinstance(value, list | tuple | set) else set()

    scored = []
    for r in rows:
        t, p = labels(pick(r, TRUE_KEYS)), labels(pick(r, PRED_KEYS))
        if t != p:
            scored.append((len(t ^ p), r, sorted(t - p), sorted(p - t)))
    if not scored:
        return ["Every test example got exactly its labels."]
    scored.sort(key=lambda item: -item[0])
    lines = [
        f"The {min(top, len(scored))} examples with the most wrong labels "
        f"(of {len(scored)} imperfect out of {len(rows)}):",
        "",
    ]
    body = [
        [
            str(i + 1),
            cell(_text(r)),
            cell(sorted(labels(pick(r, TRUE_KEYS)))),
            cell(missed or "-"),
            cell(extra or "-"),
        ]
        for i, (_, r, missed, extra) in enumerate(scored[:top])
    ]
    return lines + _table(["#", "text", "true", "missed", "wrongly added"], body)


def _regression(rows: Sequence[Mapping[str, Any]], top: int) -> list[str]:
    scored = []
    for r in rows:
        t, p = as_float(pick(r, TRUE_KEYS)), as_float(pick(r, PRED_KEYS))
        if t is not None and p is not None:
            scored.append((abs(p - t), r, t, p))
    if not scored:
        return ["No scored prediction to show."]
    scored.sort(key=lambda item: -item[0])
    lines = [f"The {min(top, len(scored))} largest absolute errors (of {len(scored)}):", ""]
    body = [
        [str(i + 1), cell(_text(r)), f"{t:.3f}", f"{p:.3f}", f"{err:.3f}"]
        for i, (err, r, t, p) in enumerate(scored[:top])
    ]
    return lines + _table(["#", "text", "true", "predicted", "abs. error"], body)


def _spans(tokens: Sequence[str], tags: Sequence[str]) -> set[tuple[str, int, int]]:
    return {(t, s, e) for t, _, s, e in get_entities([str(x) for x in tags])}


def _show(spans: set[tuple[str, int, int]], tokens: Sequence[str]) -> str:
    if not spans:
        return "-"
    parts = [
        f"{t}: {' '.join(map(str, tokens[s : e + 1]))}"
        for t, s, e in sorted(spans, key=lambda x: (x[1], x[2], x[0]))
    ]
    return "; ".join(parts)


def _ner(rows: Sequence[Mapping[str, Any]], top: int) -> list[str]:
    scored = []
    for r in rows:
        tokens = [str(t) for t in r.get("tokens", [])]
        true_tags, pred_tags = pick(r, TRUE_KEYS) or [], pick(r, PRED_KEYS) or []
        t, p = _spans(tokens, true_tags), _spans(tokens, pred_tags)
        if t != p:
            scored.append((len(t - p) + len(p - t), r, tokens, t - p, p - t))
    if not scored:
        return ["Every test sentence got exactly its entities."]
    scored.sort(key=lambda item: -item[0])
    lines = [
        f"The {min(top, len(scored))} sentences with the most wrong entities "
        f"(of {len(scored)} imperfect out of {len(rows)}); an entity counts when its "
        "type and both ends match:",
        "",
    ]
    body = [
        [
            str(i + 1),
            cell(" ".join(tokens)),
            cell(_show(missed, tokens)),
            cell(_show(extra, tokens)),
            str(n),
        ]
        for i, (n, _, tokens, missed, extra) in enumerate(scored[:top])
    ]
    return lines + _table(["#", "sentence", "missed (true)", "wrong (predicted)", "errors"], body)


def worst_errors(task_type: str, rows: Sequence[Mapping[str, Any]], top: int = 10) -> list[str]:
    """Markdown lines listing the `top` worst test predictions for `task_type`."""
    if not rows:
        return ["No test predictions were recorded."]
    rule = TASK_RULES.get(task_type)
    family = rule.metrics if rule is not None else None
    if family == "single_label":
        return _classification(rows, top)
    if family == "multi_label":
        return _multilabel(rows, top)
    if family == "numeric":
        return _regression(rows, top)
    if family == "tagging":
        return _ner(rows, top)
    return [f"No error listing for task type {task_type!r}."]
