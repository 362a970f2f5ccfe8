"""compute_metrics against scikit-learn and scipy, on random and edge-case inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from etbuilder.errors import RunError
from etbuilder.report.metrics import (
    compute_metrics,
    is_better,
    metric_direction,
    primary,
    rankdata,
)


def _labels(k: int) -> list[str]:
    return [f"c{i}" for i in range(k)]


def _check_classification(t: np.ndarray, p: np.ndarray, k: int, proba=None) -> dict:
    got = compute_metrics("classification", t, p, labels=_labels(k), scores=proba)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(t, p))
        for avg in ("macro", "micro", "weighted"):
            want = skm.f1_score(t, p, average=avg, zero_division=0)
            assert got[f"f1_{avg}"] == pytest.approx(want), avg
        assert got["precision_macro"] == pytest.approx(
            skm.precision_score(t, p, average="macro", zero_division=0)
        )
        assert got["recall_macro"] == pytest.approx(
            skm.recall_score(t, p, average="macro", zero_division=0)
        )
        if k == 2:
            want = skm.f1_score(t, p, average="binary", pos_label=1, zero_division=0)
            assert got["f1_binary"] == pytest.approx(want)
        else:
            assert "f1_binary" not in got
        prec, rec, f1, sup = skm.precision_recall_fscore_support(
            t, p, labels=list(range(k)), average=None, zero_division=0
        )
    for i, name in enumerate(_labels(k)):
        row = got["per_class"][name]
        assert row["precision"] == pytest.approx(prec[i])
        assert row["recall"] == pytest.approx(rec[i])
        assert row["f1"] == pytest.approx(f1[i])
        assert row["support"] == sup[i]
    assert got["confusion_matrix"] == skm.confusion_matrix(t, p, labels=list(range(k))).tolist()
    if proba is not None:
        assert got["log_loss"] == pytest.approx(skm.log_loss(t, proba, labels=list(range(k))))
    json.dumps(got)  # plain Python types only
    return got


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3, 7])
def test_classification_matches_sklearn_on_random_inputs(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed * 10 + k)
    n = int(rng.integers(5, 300))
    t = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, k, n))
    logits = rng.normal(size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = _check_classification(t, p, k, proba)
    assert isinstance(got["accuracy"], float)
    assert isinstance(got["per_class"]["c0"]["support"], int)


def test_class_never_predicted_and_label_absent_from_split() -> None:
    # c2 is never predicted; c3 occurs nowhere (absent from averages, as sklearn's default).
    t = np.array([0, 1, 2, 2, 1, 0, 2])
    p = np.array([0, 1, 1, 0, 1, 0, 1])
    got = _check_classification(t, p, 4)
    assert got["per_class"]["c2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 3}
    assert got["per_class"]["c3"]["support"] == 0
    assert got["confusion_matrix"][3] == [0, 0, 0, 0]


def test_single_class_everywhere() -> None:
    t = np.zeros(5, dtype=int)
    got = _check_classification(t, t.copy(), 2)
    assert got["accuracy"] == 1.0
    assert got["f1_macro"] == 1.0
    assert got["f1_binary"] == 0.0  # no positive anywhere: zero division -> 0.0


def test_binary_one_dimensional_scores_and_clipped_log_loss() -> None:
    t = np.array([0, 1, 1, 0])
    p1 = np.array([0.1, 0.9, 0.0, 0.4])  # a confident miss: clipped, not infinite
    got = compute_metrics("pair_classification", t, p1 > 0.5, labels=["no", "yes"], scores=p1)
    assert got["log_loss"] == pytest.approx(skm.log_loss(t, np.stack([1 - p1, p1], axis=1)))
    assert np.isfinite(got["log_loss"])


def test_empty_split_gives_zeros() -> None:
    got = compute_metrics("classification", [], [], labels=["a", "b"])
    assert got["accuracy"] == 0.0 and got["f1_macro"] == 0.0 and got["n"] == 0


def test_bad_indices_and_lengths_raise() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        compute_metrics("classification", [0, 2], [0, 1], labels=["a", "b"])
    with pytest.raises(ValueError, match="3 items"):
        compute_metrics("classification", [0, 1, 1], [0, 1], labels=["a", "b"])
    with pytest.raises(ValueError, match="unknown task type"):
        compute_metrics("translation", [0], [0], labels=["a"])


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 120)), 6
    t = rng.random((n, k)) < 0.3
    p = np.where(rng.random((n, k)) < 0.7, t, rng.random((n, k)) < 0.3)
    t[:, 5] = False  # a label that never occurs
    p[:, 5] = False
    p[:, 4] = False  # a label never predicted
    got = compute_metrics("multilabel", t.astype(int), p.astype(int), labels=_labels(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for avg in ("micro", "macro", "weighted"):
            want = skm.f1_score(t, p, average=avg, zero_division=0)
            assert got[f"f1_{avg}"] == pytest.approx(want), avg
        want = skm.precision_score(t, p, average="macro", zero_division=0)
        assert got["precision_macro"] == pytest.approx(want)
        assert got["recall_macro"] == pytest.approx(skm.recall_score(t, p, average="macro"))
        prec, rec, f1, sup = skm.precision_recall_fscore_support(
            t, p, average=None, zero_division=0
        )
    assert got["subset_accuracy"] == pytest.approx(skm.accuracy_score(t, p))
    assert got["hamming_loss"] == pytest.approx(skm.hamming_loss(t, p))
    for i, name in enumerate(_labels(k)):
        assert got["per_class"][name]["precision"] == pytest.approx(prec[i])
        assert got["per_class"][name]["recall"] == pytest.approx(rec[i])
        assert got["per_class"][name]["f1"] == pytest.approx(f1[i])
        assert got["per_class"][name]["support"] == sup[i]
    json.dumps(got)


def test_multilabel_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="n x 3"):
        compute_metrics("multilabel", np.zeros((2, 2)), np.zeros((2, 2)), labels=_labels(3))


@pytest.mark.parametrize("task", ["regression", "embedding"])
@pytest.mark.parametrize("seed", range(5))
def test_regression_matches_scipy_and_sklearn(task: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 200))
    t = rng.normal(2.5, 1.2, n)
    p = t + rng.normal(0, 0.8, n)
    if seed % 2:  # many ties on both sides
        t, p = np.round(t), np.round(p * 2) / 2
    got = compute_metrics(task, t, p, labels=[])
    assert got["pearson"] == pytest.approx(stats.pearsonr(t, p)[0])
    assert got["spearman"] == pytest.approx(stats.spearmanr(t, p)[0])
    assert got["mse"] == pytest.approx(skm.mean_squared_error(t, p))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(t, p))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(t, p)))
    assert got["r2"] == pytest.approx(skm.r2_score(t, p))
    json.dumps(got)


def test_spearman_ties_use_average_ranks() -> None:
    values = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    assert rankdata(values).tolist() == stats.rankdata(values).tolist()
    assert rankdata(values).tolist() == [5.0, 1.5, 5.0, 3.0, 5.0, 1.5]
    t, p = [1, 2, 2, 3, 4, 4, 4], [1, 1, 2, 3, 3, 5, 4]
    got = compute_metrics("regression", t, p, labels=[])
    assert got["spearman"] == pytest.approx(stats.spearmanr(t, p)[0])


def test_constant_predictions_give_zero_correlation_not_nan() -> None:
    got = compute_metrics("regression", [1.0, 2.0, 3.0], [2.0, 2.0, 2.0], labels=[])
    assert got["pearson"] == 0.0 and got["spearman"] == 0.0
    assert got["mse"] == pytest.approx(2 / 3)
    assert compute_metrics("regression", [], [], labels=[])["n"] == 0


def test_metric_direction() -> None:
    for name in ("accuracy", "f1_macro", "entity_f1", "spearman", "validation/pearson"):
        assert metric_direction(name) == "maximize", name
    for name in ("loss", "validation/loss", "mse", "mae", "rmse", "hamming_loss", "log_loss"):
        assert metric_direction(name) == "minimize", name
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        metric_direction("acuracy")


def test_is_better_follows_direction() -> None:
    assert is_better("accuracy", 0.8, None)
    assert is_better("accuracy", 0.8, 0.7) and not is_better("accuracy", 0.7, 0.8)
    assert is_better("mse", 0.1, 0.2) and not is_better("mse", 0.2, 0.1)
    assert not is_better("accuracy", 0.705, 0.7, min_delta=0.01)


def test_primary() -> None:
    metrics = compute_metrics("classification", [0, 1, 1], [0, 1, 0], labels=["a", "b"])
    assert primary(metrics, "accuracy") == pytest.approx(2 / 3)
    assert primary(metrics, "validation/accuracy") == pytest.approx(2 / 3)
    assert primary({"validation/loss": 0.25}, "validation/loss") == 0.25
    with pytest.raises(RunError, match="'entity_f1' is not among"):
        primary(metrics, "entity_f1")
