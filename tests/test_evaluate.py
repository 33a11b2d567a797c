"""mlplab.training.evaluate: a split's metrics in eval mode without gradients, and ROC-AUC against
scikit-learn's."""

import math

import pytest
import torch

from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.evaluate import evaluate, roc_auc
from mlplab.training.losses import LOSSES


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_evaluate_runs_in_eval_mode_without_grad_and_restores_mode(digits):
    m = MLP(64, [32], 10, dropout=0.5)
    seen = []
    m.register_forward_hook(lambda mod, i, o: seen.append((mod.training, torch.is_grad_enabled())))
    m.train()
    r1 = evaluate(m, digits.x_test, digits.y_test, LOSSES["cross_entropy"], "cross_entropy", "multiclass")
    r2 = evaluate(m, digits.x_test, digits.y_test, LOSSES["cross_entropy"], "cross_entropy", "multiclass")
    assert r1 == r2 and seen and all(s == (False, False) for s in seen) and m.training


def test_roc_auc_of_a_worked_example():
    # pairs (positive, negative) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4) → 3/4
    assert roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0.0, 0.0, 1.0, 1.0])) == 0.75
    assert math.isnan(roc_auc(torch.tensor([0.1, 0.4]), torch.tensor([1.0, 1.0])))


def test_roc_auc_equals_scikit_learns_with_ties_and_many_rows():
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    y = (torch.rand(5000, generator=g) < 0.1).float()
    scores = torch.randn(5000, generator=g) + y          # informative, and rounded so that many scores tie
    for s in (scores, scores.round(decimals=1), torch.zeros(5000)):
        assert roc_auc(s, y) == pytest.approx(roc_auc_score(y.numpy(), s.numpy()), abs=1e-12)




def test_mean_ranks_equal_scipys_rankdata_with_ties():
    import numpy as np
    from scipy.stats import rankdata

    from mlplab.training.evaluate import mean_ranks

    rng = np.random.default_rng(0)
    for values in (rng.normal(size=1000), rng.integers(0, 7, size=1000).astype(float), np.zeros(5), np.array([2.0])):
        np.testing.assert_array_equal(mean_ranks(values), rankdata(values))
