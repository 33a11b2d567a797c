"""mlplab recipe lstm-memory / cnn-vs-mlp --quick: the task, the step-by-step unroll, the numbers that must hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlplab.models.rnn import RNNClassifier
from mlplab.recipes import run_recipe
from mlplab.recipes.cnn_vs_mlp import multiply_adds
from mlplab.recipes.lstm_memory import first_symbol_task, state_gradients, unroll

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_task_hides_the_label_at_step_one_only():
    x, y = first_symbol_task(200, 7, 4, 3, np.random.default_rng(0))
    assert x.shape == (200, 7, 8) and set(y) == {0, 1, 2, 3}
    assert (x[np.arange(200), 0, y] == 2).all() and (x[:, 0, :7].sum(1) == 2).all()   # step 1: the symbol alone
    assert (x[:, 0, 7] == 1).all() and (x[:, 1:, 7] == 0).all()       # the marker at step 1 only
    assert (x[:, 1:, :7] != 0).all() and abs(x[:, 1:, :7].std() - 1) < 0.05   # N(0, 1) on every other feature


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_unroll_matches_torch_and_its_gradients_are_autograds(cell):
    model = RNNClassifier(3, 5, 2, cell=cell, seed=0)
    x = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(0))
    logits, hs, cs = unroll(model, x)
    torch.testing.assert_close(logits, model(x))
    assert len(hs) == 6 and len(cs) == (6 if cell == "lstm" else 0)
    y = torch.tensor([0, 1, 1, 0])
    g = state_gradients(model, x, y)
    # the last state's gradient by hand: ∂ℓ/∂h_T = W_fcᵀ (softmax − onehot), per row
    p = torch.softmax(model(x), dim=1) - torch.nn.functional.one_hot(y, 2)
    assert g["grad_h"][-1] == pytest.approx((p @ model.fc.weight).norm(dim=1).mean().item(), rel=1e-5)


@pytest.mark.parametrize("seed", [0, 3])
def test_lstm_memory_quick(tmp_path, seed):
    r = run_recipe("lstm-memory", tmp_path, seed=seed, quick=True)
    rnn, lstm = r["rnn"], r["lstm"]
    assert rnn["test_accuracy"] <= 1 / 4 + 0.1                          # near chance (seeds 0-4: 0.246-0.302)
    assert lstm["test_accuracy"] >= 0.95                                # seeds 0-4: 0.994-1.000
    init = lambda m: m["init"]["grad_h"][0] / m["init"]["grad_h"][-1]  # noqa: E731
    assert init(rnn) < 1e-6 < 1e-2 < init(lstm)                         # the RNN's gradient vanishes over T steps
    report = (tmp_path / "report.md").read_text()
    assert (tmp_path / "memory.png").stat().st_size > 10_000 and "](memory.png)" in report
    assert "vanish" in report and f"ends at test accuracy {rnn['test_accuracy']:.3f}" in report


def test_multiply_adds_counts_every_position():
    conv = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(3 * 25, 4))
    assert multiply_adds(conv, torch.zeros(1, 2, 5, 5)) == 3 * 2 * 9 * 25 + 75 * 4


def test_cnn_vs_mlp_quick(tmp_path, fashion_dir):
    r = run_recipe("cnn-vs-mlp", tmp_path, seed=0, quick=True, data_dir=fashion_dir)
    cnn, mlp = r["CNN"], r["MLP 784-26-10"]
    assert cnn["parameters"] == 20_490 and mlp["parameters"] == 20_680   # within 1% of each other
    assert cnn["multiply_adds"] == 1_031_744 and mlp["multiply_adds"] == 20_644
    # 2 epochs on 3,000 images: far from converged, so the numbers move with float rounding (thread count, conv
    # kernel): seen 0.57-0.67 for the CNN and ~0.69 for the MLP at seed 0; both far above chance (0.1)
    assert cnn["test_accuracy"] > 0.4 and mlp["test_accuracy"] > 0.4
    report = (tmp_path / "report.md").read_text()
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000 and "20,490 parameters" in report
