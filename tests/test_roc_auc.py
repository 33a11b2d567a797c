"""mlplab.training.roc_auc: ROC-AUC of a worked example, equal to scikit-learn's with ties, from ranks equal
to scipy's."""

import math

import numpy as np
import pytest
import torch

from mlplab.training.roc_auc import mean_ranks, roc_auc


def test_roc_auc_of_a_worked_example():
    # pairs (positive, negative) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4) → 3/4
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.0, 0.0, 1.0, 1.0])) == 0.75
    assert math.isnan(roc_auc(np.array([0.1, 0.4]), np.array([1.0, 1.0])))
    # the loop's tensors, as numpy sees them
    assert roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])) == 0.75


def test_roc_auc_equals_scikit_learns_with_ties_and_many_rows():
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    y = (torch.rand(5000, generator=g) < 0.1).float()
    scores = torch.randn(5000, generator=g) + y          # informative, and rounded so that many scores tie
    for s in (scores, scores.round(decimals=1), torch.zeros(5000)):
        assert roc_auc(s, y) == pytest.approx(roc_auc_score(y.numpy(), s.numpy()), abs=1e-12)


def test_mean_ranks_equal_scipys_rankdata_with_ties():
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for values in (rng.normal(size=1000), rng.integers(0, 7, size=1000).astype(float), np.zeros(5), np.array([2.0])):
        np.testing.assert_array_equal(mean_ranks(values), rankdata(values))
