"""Evaluation metrics for every task, numpy only (scikit-learn is a test dependency only).

`compute_metrics` dispatches on the task's metric family (`etbuilder.plan.tasks`) and returns
plain Python numbers (JSON-ready).
Definitions follow scikit-learn with ``zero_division=0`` (and seqeval for NER, see
`etbuilder.report.ner_metrics`):

* classification / pair_classification: `y_true`, `y_pred` are class indices into `labels`.
  ``f1_macro``/``f1_micro``/``f1_weighted`` average over the labels that occur in `y_true` or
  `y_pred` (scikit-learn's default label set); ``per_class`` and ``confusion_matrix`` cover every
  label, in label order (rows = true, columns = predicted). ``f1_binary`` (2 labels only) takes
  ``labels[1]`` as the positive class. ``log_loss`` needs `scores` (n x k probabilities).
* multilabel: multi-hot arrays (n x k); macro averages run over all k labels (scikit-learn's
  behaviour for indicator matrices).
* regression / embedding: floats; Spearman ranks ties by their average rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from etbuilder.errors import RunError
from etbuilder.plan.tasks import rule_of
from etbuilder.report.ner_metrics import ner_metrics

_MINIMIZE = frozenset({"loss", "log_loss", "mse", "mae", "rmse", "hamming_loss"})
_MAXIMIZE = frozenset(
    {
        "accuracy",
        "f1_macro",
        "f1_micro",
        "f1_weighted",
        "f1_binary",
        "subset_accuracy",
        "pearson",
        "spearman",
        "r2",
        "entity_f1",
        "entity_precision",
        "entity_recall",
        "token_accuracy",
        "precision_macro",
        "recall_macro",
    }
)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise num/den with 0.0 where den is 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _per_class(
    tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray, labels: Sequence[str]
) -> tuple[np.ndarray, dict[str, dict[str, float | int]]]:
    """Per-label F1 array and the {label: {precision, recall, f1, support}} table."""
    precision = _safe_div(tp, n_pred)
    recall = _safe_div(tp, n_true)
    f1 = _safe_div(2 * tp, n_pred + n_true)
    table = {
        str(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(n_true[i]),
        }
        for i, label in enumerate(labels)
    }
    return f1, table


def _averages(
    tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray, present: np.ndarray
) -> dict[str, float]:
    """Macro/micro/weighted F1 and macro precision/recall over the labels in `present`."""
    tp, n_pred, n_true = tp[present], n_pred[present], n_true[present]
    if not present.any():
        return dict.fromkeys(
            ("f1_macro", "f1_micro", "f1_weighted", "precision_macro", "recall_macro"), 0.0
        )
    f1 = _safe_div(2 * tp, n_pred + n_true)
    return {
        "f1_macro": float(f1.mean()),
        "f1_micro": float(_safe_div(2 * tp.sum(), n_pred.sum() + n_true.sum())),
        "f1_weighted": float(_safe_div((f1 * n_true).sum(), n_true.sum())),
        "precision_macro": float(_safe_div(tp, n_pred).mean()),
        "recall_macro": float(_safe_div(tp, n_true).mean()),
    }


def _log_loss(y_true: np.ndarray, scores: Any, k: int) -> float:
    """Mean negative log-probability of the true class; rows renormalised, clipped to eps."""
    proba = np.asarray(scores, dtype=np.float64)
    if proba.ndim == 1 and k == 2:
        proba = np.stack([1.0 - proba, proba], axis=1)
    if proba.shape != (len(y_true), k):
        raise ValueError(f"scores must be n x {k} probabilities, got shape {proba.shape}")
    proba = proba / proba.sum(axis=1, keepdims=True)
    eps = np.finfo(np.float64).eps
    proba = np.clip(proba, eps, 1 - eps)
    return float(-np.log(proba[np.arange(len(y_true)), y_true]).mean()) if len(y_true) else 0.0


def classification_metrics(
    y_true: Any, y_pred: Any, labels: Sequence[str], scores: Any = None
) -> dict[str, Any]:
    """Single-label metrics; `y_true`/`y_pred` are indices into `labels`."""
    k = len(labels)
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} items but y_pred has {p.size}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(f"{name} holds class indices outside 0..{k - 1} ({k} labels)")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    tp = np.diag(cm)
    n_true, n_pred = cm.sum(axis=1), cm.sum(axis=0)
    f1, table = _per_class(tp, n_pred, n_true, labels)
    out: dict[str, Any] = {
        "accuracy": float(tp.sum() / t.size) if t.size else 0.0,
        **_averages(tp, n_pred, n_true, (n_true + n_pred) > 0),
        "per_class": table,
        "confusion_matrix": cm.tolist(),
        "n": int(t.size),
    }
    if k == 2:
        out["f1_binary"] = float(f1[1])
    if scores is not None:
        out["log_loss"] = _log_loss(t, scores, k)
    return out


def multilabel_metrics(y_true: Any, y_pred: Any, labels: Sequence[str]) -> dict[str, Any]:
    """Multi-hot metrics; `y_true`/`y_pred` are n x k arrays of 0/1 (or booleans)."""
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    if t.ndim != 2 or t.shape != p.shape or t.shape[1] != len(labels):
        raise ValueError(f"multilabel needs n x {len(labels)} arrays, got {t.shape} and {p.shape}")
    tp = (t & p).sum(axis=0)
    n_true, n_pred = t.sum(axis=0), p.sum(axis=0)
    _, table = _per_class(tp, n_pred, n_true, labels)
    return {
        **_averages(tp, n_pred, n_true, np.ones(len(labels), dtype=bool)),
        "subset_accuracy": float((t == p).all(axis=1).mean()) if len(t) else 0.0,
        "hamming_loss": float((t != p).mean()) if t.size else 0.0,
        "per_class": table,
        "n": len(t),
    }


def rankdata(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata 'average')."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start index of each run of equal values, and the average 1-based rank of that run.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    run_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is constant or there are under 2 points."""
    if x.size < 2:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    den = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    if den == 0.0:
        return 0.0
    return float(np.clip((dx * dy).sum() / den, -1.0, 1.0))


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """Pearson, Spearman, MSE, MAE, RMSE and R² of float predictions."""
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} items but y_pred has {p.size}")
    if not t.size:
        return dict.fromkeys(("pearson", "spearman", "mse", "mae", "rmse", "r2"), 0.0) | {"n": 0}
    err = p - t
    mse = float((err * err).mean())
    ss_tot = float(((t - t.mean()) ** 2).sum())
    return {
        "pearson": _pearson(t, p),
        "spearman": _pearson(rankdata(t), rankdata(p)),
        "mse": mse,
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt(mse)),
        "r2": 1.0 - float((err * err).sum()) / ss_tot if ss_tot else 0.0,
        "n": int(t.size),
    }


def compute_metrics(
    task_type: str,
    y_true: Any,
    y_pred: Any,
    *,
    labels: list[str],
    scores: Any = None,
) -> dict[str, Any]:
    """All metrics of one split for `task_type`; plain Python numbers, lists and dicts.

    `scores`: class probabilities (n x k) for classification/pair_classification, which adds
    ``log_loss``; ignored by the other tasks.
    """
    family = rule_of(task_type).metrics
    if family == "single_label":
        return classification_metrics(y_true, y_pred, labels, scores)
    if family == "multi_label":
        return multilabel_metrics(y_true, y_pred, labels)
    if family == "numeric":
        return regression_metrics(y_true, y_pred)
    return ner_metrics(y_true, y_pred, labels)


def _bare(name: str) -> str:
    """`validation/accuracy` -> `accuracy`; `eval_loss` stays (ends with loss)."""
    return name.rsplit("/", maxsplit=1)[-1]


def metric_direction(name: str) -> str:
    """'maximize' or 'minimize' for a metric name (a split prefix like `validation/` is allowed)."""
    bare = _bare(name)
    if bare in _MINIMIZE or bare.endswith("loss"):
        return "minimize"
    if bare in _MAXIMIZE:
        return "maximize"
    known = ", ".join(sorted(_MAXIMIZE | _MINIMIZE))
    raise ValueError(f"unknown metric {name!r}; known metrics: {known}")


def is_better(name: str, new: float, old: float | None, min_delta: float = 0.0) -> bool:
    """Whether `new` improves on `old` by more than `min_delta` in the metric's direction."""
    if old is None:
        return True
    if metric_direction(name) == "maximize":
        return new > old + min_delta
    return new < old - min_delta


def primary(metrics: Mapping[str, Any], name: str) -> float:
    """The value of metric `name` in one split's `metrics`, as a float.

    `name` may carry a split prefix (`validation/f1_macro`), matched first as is, then bare.
    """
    for key in (name, _bare(name)):
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    scalars = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
    raise RunError(
        f"metric {name!r} is not among this task's metrics ({', '.join(scalars) or 'none'}); "
        "choose one of these in task.metric"
    )
