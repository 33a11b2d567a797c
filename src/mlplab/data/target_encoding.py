"""Target encoding of a categorical column with many levels: each level's smoothed mean of the target.

A one-hot of the 32 most frequent levels (mlplab.data.columns) says nothing about the other thousands (the
students and lecturers of InstEval, the planes of flights). Their mean target says much, learned from the
training rows alone, shrunk towards the overall mean ``prior`` by the m-estimate (Micci-Barreca 2001,
"A preprocessing scheme for high-cardinality categorical attributes"):

    mean(level) = (Σ y over the level's rows + m · prior) / (rows of the level + m)

``y`` is the target for regression, the positive class (0/1) for binary, and one 0/1 column per class for
multiclass (each level then has K rates). An unseen or missing level gets the prior.

The training rows' own encoding would restate their targets (a level seen once gets its own answer), so a
model would trust it more than it deserves on new rows: the training rows are encoded out of fold instead
(``out_of_fold``: K folds, each encoded with the means of the other folds), as scikit-learn's
``TargetEncoder.fit_transform`` does; every other row uses the means of all the training rows.

>>> means(np.array([0, 0, 1]), np.array([[1.0], [3.0], [5.0]]), levels=2, m=1.0)    # doctest: +SKIP
array([[2.33333333], [4.], [3.]])      # (1 + 3 + 3)/3, (5 + 3)/2, then the prior 3
"""

from __future__ import annotations

import numpy as np

SMOOTHING = 10.0  # m: the prior counts as m rows (InstEval, Ridge RMSE: m = 1 1.2115, 3 1.2104, 10 1.2104, 30 1.2142)
FOLDS = 5


def targets(y: np.ndarray, task: str, classes: int) -> np.ndarray:
    """The target as (N, k) float64 columns to average: the values, the positive class, or one per class."""
    if task == "regression":
        return np.asarray(y, np.float64).reshape(-1, 1)
    if task == "binary":
        return (np.asarray(y) == 1).astype(np.float64).reshape(-1, 1)
    return np.eye(classes)[np.asarray(y, np.int64)]


def means(codes: np.ndarray, y: np.ndarray, levels: int, m: float = SMOOTHING) -> np.ndarray:
    """(levels + 1, k) float64: each level's smoothed mean of ``y`` (N, k) over its rows (``codes`` (N,) in
    [0, levels], ``levels`` meaning unseen or missing), then the prior (the mean over every row) last."""
    prior = y.mean(0)                                                   # (k,)
    counts = np.bincount(codes, minlength=levels + 1)[:levels]          # (levels,)
    sums = np.stack([np.bincount(codes, weights=y[:, j], minlength=levels + 1)[:levels]
                     for j in range(y.shape[1])], 1)                    # (levels, k)
    return np.vstack([(sums + m * prior) / (counts[:, None] + m), prior])


def out_of_fold(codes: np.ndarray, y: np.ndarray, levels: int, seed: int, folds: int = FOLDS,
                m: float = SMOOTHING) -> np.ndarray:
    """(N, k): each training row encoded by ``means`` of the rows in the other ``folds`` (seeded shuffle)."""
    fold = np.random.default_rng(seed).permutation(len(codes)) % folds   # (N,) which fold each row is in
    out = np.empty(y.shape, np.float64)
    for f in range(folds):
        held = fold == f
        out[held] = means(codes[~held], y[~held], levels, m)[codes[held]]
    return out
