"""mlplab.data.split against scikit-learn's train_test_split on the same inputs: the same rows, in the same
order, for every seed, share and class mix; and the same refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mlplab.data.split import approximate_mode, train_test_rows


def sklearn_rows(y, test_size, seed, stratify):
    return train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed,
                            stratify=y if stratify else None)


def labels(counts, seed=0):
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y)


CASES = {  # class counts: balanced, skewed, tied remainders, many classes, a class absent from the indices
    "balanced": [50, 50],
    "skewed": [970, 25, 5],
    "ties": [7, 7, 7, 7, 3],
    "many": [int(c) for c in np.random.default_rng(1).integers(2, 40, size=23)],
    "gap": [30, 0, 12, 9],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("test_size", [0.2, 0.15 / 0.8, 0.5, 0.03])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_stratified_rows_are_sklearns(case, test_size, seed):
    y = labels(CASES[case], seed)
    try:
        want = sklearn_rows(y, test_size, seed, True)
    except ValueError as e:  # too few test rows for the classes: the same refusal
        with pytest.raises(ValueError) as ours:
            train_test_rows(y, test_size, seed, True)
        assert str(ours.value) == str(e)
        return
    got = train_test_rows(y, test_size, seed, True)
    for ours, theirs in zip(got, want):
        assert ours.dtype == theirs.dtype and ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("n", [2, 7, 100, 1001])
@pytest.mark.parametrize("test_size", [0.2, 0.5, 0.99])
@pytest.mark.parametrize("seed", [0, 3])
def test_shuffled_rows_are_sklearns(n, test_size, seed):
    y = np.linspace(0, 1, n)  # regression: only the count matters
    try:
        want = sklearn_rows(y, test_size, seed, False)
    except ValueError as e:
        with pytest.raises(ValueError) as ours:
            train_test_rows(y, test_size, seed, False)
        assert str(ours.value) == str(e)
        return
    for ours, theirs in zip(train_test_rows(y, test_size, seed, False), want):
        assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("y, test_size", [
    (np.array([0, 0, 0, 1]), 0.5),          # a class with one row
    (np.array([0, 0, 1, 1, 2, 2]), 0.2),    # fewer test rows than classes
    (np.array([0, 0, 1, 1, 2, 2]), 0.9),    # fewer training rows than classes
    (np.array([0]), 0.2),                    # nothing left to train on
])
def test_refusals_say_what_sklearn_says(y, test_size):
    with pytest.raises(ValueError) as theirs:
        sklearn_rows(y, test_size, 0, True)
    with pytest.raises(ValueError) as ours:
        train_test_rows(y, test_size, 0, True)
    assert str(ours.value) == str(theirs.value)


def test_approximate_mode_matches_sklearns_worked_examples():
    # sklearn.utils.extmath._approximate_mode's docstring
    rng = np.random.RandomState
    assert approximate_mode(np.array([4, 2]), 3, rng(0)).tolist() == [2, 1]
    assert approximate_mode(np.array([5, 2]), 4, rng(0)).tolist() == [3, 1]
    assert approximate_mode(np.array([2, 2, 2, 1]), 2, rng(0)).tolist() == [0, 1, 1, 0]
    assert approximate_mode(np.array([2, 2, 2, 1]), 2, rng(42)).tolist() == [1, 1, 0, 0]
