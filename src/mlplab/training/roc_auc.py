"""ROC-AUC from ranks, in numpy: the loop's validation metric every epoch (mlplab.training.evaluate) and the
test report's (mlplab.runs.metrics), without torch, so the baselines' worker process can score with it too."""

from __future__ import annotations

import numpy as np


def mean_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, tied values sharing their mean rank (scipy.stats.rankdata's "average"):
    a value's distinct level ends at rank ``cumsum(counts)``, and its ``count`` ties share that minus
    ``(count - 1) / 2``.

    >>> mean_ranks(np.array([0.3, 0.1, 0.3, 0.2])).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    _, level, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2)[level.reshape(-1)]


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (N,) against 0/1 targets ``y``; NaN when ``y`` holds one class
    only (the area is then undefined).

    As the Mann-Whitney statistic, (sum of the positives' ranks − P(P + 1)/2) / (P · N), ties ranked by their
    mean: the value scikit-learn's roc_auc_score gives (tests/test_evaluate.py, test_fit.py), at a fifth of its
    cost on a validation split, which matters when it is computed every epoch.
    """
    y = np.asarray(y).reshape(-1) > 0.5
    positives = int(y.sum())
    if not 0 < positives < len(y):
        return float("nan")
    ranks = mean_ranks(np.asarray(scores, np.float64).reshape(-1))
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))
