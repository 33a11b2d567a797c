"""mlplab.training.evaluate: a split's metrics in eval mode without gradients."""

import pytest
import torch

from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.evaluate import evaluate
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
