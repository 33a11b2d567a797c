"""mlplab.runs.metrics: a table run's test metrics, computed in numpy, equal scikit-learn's on the same rows,
including ties, a class the rows lack, a class never predicted, and a constant regression target."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from mlplab.runs.metrics import table_metrics


def probabilities(rng, n: int, k: int, signal: np.ndarray | None = None) -> np.ndarray:
    logits = rng.normal(size=(n, k))
    if signal is not None:
        logits[np.arange(n), signal] += 1.5
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def assert_classification_equal(task: str, y: np.ndarray, s: np.ndarray, names: list[str]) -> None:
    ours = table_metrics(task, y, s, names)
    labels = list(range(len(names)))
    pred = (s[:, 1] >= 0.5).astype(int) if task == "binary" else s.argmax(axis=1)
    p, r, f, n = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    with warnings.catch_warnings():  # scikit-learn warns when a predicted class is absent from y
        warnings.simplefilter("ignore")
        assert ours["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, np.clip(s, 1e-15, 1), labels=labels), abs=1e-9)
    assert ours["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=labels).tolist()
    for i, name in enumerate(names):
        got = ours["per_class"][name]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx((p[i], r[i], f[i], n[i]))
    if task == "binary":
        assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s[:, 1]), abs=1e-12)
        assert ours["pr_auc"] == pytest.approx(skm.average_precision_score(y, s[:, 1]), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_binary_metrics_equal_scikit_learns_with_tied_scores(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(700) < 0.3).astype(np.int64)
    s = probabilities(rng, 700, 2, y)
    s = np.round(s, 1 + seed % 2)  # many ties
    s[:, 0] = 1 - s[:, 1]
    assert_classification_equal("binary", y, s, ["no", "yes"])


@pytest.mark.parametrize("seed", range(4))
def test_multiclass_metrics_equal_scikit_learns_with_a_missing_and_a_never_predicted_class(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=500)  # class 4 never occurs in the rows
    s = probabilities(rng, 500, 5, y)
    s[:, 3] *= 0.01  # class 3 is (almost) never predicted
    s /= s.sum(axis=1, keepdims=True)
    assert_classification_equal("multiclass", y, s, ["a", "b", "c", "d", "e"])


def test_a_binary_split_of_one_class_has_no_roc_auc_or_pr_auc():
    m = table_metrics("binary", np.zeros(5, np.int64), np.full((5, 2), 0.5), ["no", "yes"])
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"]) and m["accuracy"] == 0.0


@pytest.mark.parametrize("y", [np.random.default_rng(0).normal(size=300) * 1000, np.full(50, 3.0)])
def test_regression_metrics_equal_scikit_learns_including_a_constant_target(y):
    s = y + np.random.default_rng(1).normal(size=len(y)) * 100
    m = table_metrics("regression", y, s)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, s)), rel=1e-12)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, s), rel=1e-12)
    assert m["r2"] == pytest.approx(skm.r2_score(y, s), abs=1e-12)
    assert table_metrics("regression", y, y)["r2"] == skm.r2_score(y, y) == 1.0
