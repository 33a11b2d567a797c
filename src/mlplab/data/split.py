"""Seeded train/test splits of row indices, stratified by class: scikit-learn's ``train_test_split``, index for index.

A table's rows are split before anything else is learned from them (mlplab.data.tabular). Importing
scikit-learn for that costs about 120 MB of memory and seconds of start-up while the whole table is held,
so the two algorithms it uses are written out here, with its names, and tests/test_split.py checks them
against it on the same inputs:

- ``ShuffleSplit``: one permutation of the rows; the first ``n_test`` are the test rows, the rest training.
- ``StratifiedShuffleSplit``: per class, the rows it gets in each part are the approximate mode of the
  multivariate hypergeometric distribution (``approximate_mode``); each class's rows are permuted and cut
  there, and both parts permuted once more.

>>> train, test = train_test_rows(np.array([0, 0, 0, 1, 1, 1]), 0.5, seed=0, stratify=True)
>>> sorted(np.array([0, 0, 0, 1, 1, 1])[test].tolist())
[0, 0, 1, 1]
"""

from __future__ import annotations

from math import ceil

import numpy as np


def train_test_rows(y: np.ndarray, test_size: float | int, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """(training, test) positions into ``y`` (N,) class indices (only its length counts unless ``stratify``):
    ``ceil(test_size · N)`` test rows (``test_size`` rows when it is an int), as ``train_test_split(np.arange(N),
    test_size=test_size, random_state=seed, stratify=y if stratify else None)``."""
    n = len(y)
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        if not 0 < test_size < n:
            raise ValueError(f"test_size={test_size} should be either positive and smaller than the number of "
                             f"samples {n} or a float in the (0, 1) range")
        n_test = int(test_size)
    elif not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size} should be either positive and smaller than the number of samples "
                         f"{n} or a float in the (0, 1) range")
    else:
        n_test = ceil(test_size * n)
    n_train = n - n_test
    if n_train == 0:
        raise ValueError(f"With n_samples={n}, test_size={test_size} and train_size=None, the resulting train set "
                         "will be empty. Adjust any of the aforementioned parameters.")
    rng = np.random.RandomState(seed)
    if not stratify:
        permutation = rng.permutation(n)
        return permutation[n_test:], permutation[:n_test]
    counts = np.bincount(y)                     # np.unique's classes and counts, without sorting N labels
    classes = np.flatnonzero(counts)
    class_counts = counts[classes]
    if class_counts.min() < 2:
        raise ValueError("The least populated classes in y have only 1 member, which is too few. The minimum number "
                         "of groups for any class cannot be less than 2. Classes with too few members are: "
                         f"{classes[class_counts < 2].tolist()}")
    for part, size in (("train", n_train), ("test", n_test)):
        if size < len(classes):
            raise ValueError(f"The {part}_size = {size} should be greater or equal to the number of classes = "
                             f"{len(classes)}")
    n_i = approximate_mode(class_counts, n_train, rng)
    t_i = approximate_mode(class_counts - n_i, n_test, rng)
    train, test = np.empty(n_i.sum(), np.intp), np.empty(t_i.sum(), np.intp)
    a = b = 0
    for i, c in enumerate(classes):
        rows = np.flatnonzero(y == c)           # the class's rows in order (its run in a stable argsort)
        rng.shuffle(rows)                       # = rows.take(rng.permutation(len(rows))), in place
        train[a:a + n_i[i]] = rows[:n_i[i]]
        test[b:b + t_i[i]] = rows[n_i[i]:n_i[i] + t_i[i]]
        a, b = a + n_i[i], b + t_i[i]
        del rows  # before the next class's
    rng.shuffle(train)                          # = rng.permutation(train), in place
    rng.shuffle(test)
    return train, test


def approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` rows drawn without replacement each class most likely gets: the floor of its
    share, then one more for the largest remainders (ties broken by ``rng``) until the draws add up."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def fold_rows(y: np.ndarray, task: str, name: str, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) positions into ``y`` per fold: scikit-learn's ``StratifiedKFold`` for classes (every
    fold keeps the class proportions), ``KFold`` for a regression, shuffled with ``seed``."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, e.g. --folds 5; got {folds!r}")
    n = len(y)
    if folds > n:
        raise ValueError(f"folds ({folds}) cannot exceed the {n} training samples of {name}")
    if task == "regression":
        splitter = KFold(folds, shuffle=True, random_state=seed)
    else:
        smallest = np.bincount(y.astype(np.int64)).min(initial=n)
        if folds > smallest:
            raise ValueError(f"folds ({folds}) cannot exceed the smallest class's {smallest} samples in "
                             f"{name}; use --folds {max(2, smallest)} or fewer")
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((n, 1)), y))
