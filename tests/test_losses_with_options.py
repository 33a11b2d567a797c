"""mlplab.training.losses.with_options (class weights, label smoothing) and how fit trains with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlplab.training.losses import with_options


def test_weighted_smoothed_cross_entropy_is_torchs():
    g = torch.Generator().manual_seed(0)
    x, y, w = torch.randn(8, 3, generator=g), torch.tensor([0, 1, 2, 1, 0, 2, 2, 1]), torch.tensor([1.0, 2.0, 0.5])
    torch.testing.assert_close(with_options("cross_entropy", w, 0.1)(x, y),
                               F.cross_entropy(x, y, weight=w, label_smoothing=0.1))


def test_bce_weights_by_class_and_smooths_towards_one_half():
    x, y = torch.tensor([[2.0], [-1.0], [0.5]]), torch.tensor([[1.0], [0.0], [1.0]])
    w = torch.tensor([1.0, 4.0])
    expected = F.binary_cross_entropy_with_logits(x, y * 0.8 + 0.1, weight=torch.tensor([[4.0], [1.0], [4.0]]))
    torch.testing.assert_close(with_options("bce_with_logits", w, 0.2)(x, y), expected)
    with pytest.raises(ValueError, match="apply to cross_entropy and bce_with_logits; the loss is 'mse'"):
        with_options("mse", w)


def test_balanced_class_weight_raises_minority_recall(one_torch_thread):
    import mlplab

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    y = (x[:, 0] + 0.8 * rng.normal(size=2000) > 1.6).astype(int)  # ~8% positive, noisy
    d = mlplab.Dataset.from_arrays(x, y, test_fraction=0.3)
    keys = dict(hidden=[16], optimizer="adam", lr=0.01, epochs=15, progress="quiet", device="cpu")
    plain, balanced = mlplab.train(d, **keys), mlplab.train(d, class_weight="balanced", **keys)
    assert balanced.metrics["backprop"] == "hand"
    assert balanced.metrics["backprop_reason"].startswith("mlplab's MLP with bce with logits (class weights) on the CPU")
    xt, yt = d.x_test.numpy(), d.y_test.numpy().ravel()  # rows as given, as predict takes them
    recall = lambda run: (run.predict(xt)[yt == 1] == 1).mean()
    assert recall(balanced) > recall(plain) + 0.2
