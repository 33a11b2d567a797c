"""RNNClassifier: construction, shapes, parameter counts, seeds and errors, on both sides."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlplab.models.rnn import RNNClassifier
from mlplab.scratch.rnn import RNNClassifier as ScratchRNNClassifier

BOTH = pytest.mark.parametrize("cls", [RNNClassifier, ScratchRNNClassifier], ids=["torch", "scratch"])


@BOTH
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_shapes_and_parameter_counts(cls, cell, num_layers):
    d, h, out = 28, 16, 10
    m = cls(d, h, out, cell=cell, num_layers=num_layers)
    assert m(torch.zeros(5, 28, 28)).shape == (5, 10)       # an image, row by row
    assert m(torch.zeros(2, 7, 28)).shape == (2, 10)        # any length T
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)    # (N, 1, H, W) as (N, H, W)
    gates = 4 if cell == "lstm" else 1
    per_layer = [gates * (h * (d_in + h) + 2 * h) for d_in in [d] + [h] * (num_layers - 1)]
    assert sum(p.numel() for p in m.rnn.parameters()) == sum(per_layer)
    assert sum(p.numel() for p in m.fc.parameters()) == h * out + out


def test_torch_side_uses_torchs_batch_first_modules():
    m = RNNClassifier(28, 8, 10, cell="lstm", num_layers=2)
    assert isinstance(m.rnn, nn.LSTM) and m.rnn.batch_first and m.rnn.num_layers == 2
    assert isinstance(RNNClassifier(28, 8, 10).rnn, nn.RNN) and RNNClassifier(28, 8, 10).rnn.nonlinearity == "tanh"


def test_last_step_decides_the_output():
    m = RNNClassifier(3, 4, 2, cell="lstm").double()
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    h = m.rnn(x)[1][0][-1]                        # the top layer's final h
    torch.testing.assert_close(m(x), m.fc(h))


@BOTH
def test_the_same_seed_gives_the_same_weights_and_another_seed_others(cls):
    a, b, c = (cls(5, 6, 3, cell="lstm", seed=s) for s in (1, 1, 2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.rnn.weight_ih_l0, c.rnn.weight_ih_l0)
    bound = 1 / 6 ** 0.5  # torch's reset: U(−1/√H, 1/√H) everywhere
    assert all(p.abs().max() <= bound for p in a.parameters())


@BOTH
@pytest.mark.parametrize("kwargs, words", [
    (dict(cell="gru"), ["unknown cell 'gru'", "valid cells: lstm, rnn"]),
    (dict(num_layers=0), ["num_layers must be a positive integer", "got 0"]),
    (dict(hidden_size=2.5), ["hidden_size must be a positive integer", "got 2.5"]),
    (dict(input_size=True), ["input_size", "got True"]),
    (dict(output_size=-1), ["output_size", "got -1"]),
])
def test_errors_name_the_argument_and_the_value(cls, kwargs, words):
    args = dict(input_size=4, hidden_size=3, output_size=2) | kwargs
    sizes = [args.pop(k) for k in ("input_size", "hidden_size", "output_size")]
    with pytest.raises(ValueError) as e:
        cls(*sizes, **args)
    for w in words:
        assert w in str(e.value)
