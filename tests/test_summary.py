"""Model summaries: each layer's parameter formula (affine, conv, batch norm, RNN, LSTM) on both sides."""

from __future__ import annotations

import pytest
from torch import nn

from mlplab.models.cnn import CNN
from mlplab.models.mlp import MLP
from mlplab.models.rnn import RNNClassifier
from mlplab.models.summary import formula, render, summarize
from mlplab.scratch.cnn import CNN as ScratchCNN
from mlplab.scratch.mlp import MLP as ScratchMLP
from mlplab.scratch.rnn import RNNClassifier as ScratchRNNClassifier

LENET = ["5·5·1·6 + 6 = 156", "sigmoid", "", "5·5·6·16 + 16 = 2,416", "sigmoid", "", "",
         "400·120 + 120 = 48,120", "sigmoid", "120·84 + 84 = 10,164", "sigmoid", "84·10 + 10 = 850"]


@pytest.mark.parametrize("cls", [CNN, ScratchCNN], ids=["torch", "scratch"])
def test_lenet_rows_are_d2l_counts(cls):
    m = cls((28, 28), 10, spec="lenet")
    rows = summarize(m, (28, 28))
    assert [r.formula for r in rows] == LENET
    assert [r.shape[1:] for r in rows][:6] == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10),
                                               (16, 5, 5)]
    assert render(rows, m).splitlines()[-1].split()[1:] == ["61,706", "trainable", "61,706"]


@pytest.mark.parametrize("cls", [CNN, ScratchCNN], ids=["torch", "scratch"])
def test_conv_and_batch_norm_formulas(cls):
    m = cls((3, 8, 8), 2, spec="conv:4:3:pad1,bn,relu")
    assert formula(m[0]) == "3·3·3·4 + 4 = 112"
    assert formula(m[1]) == "2·4 = 8"


def test_a_conv_without_bias():
    assert formula(nn.Conv2d(2, 5, 3, bias=False)) == "3·3·2·5 = 90"


@pytest.mark.parametrize("cls", [RNNClassifier, ScratchRNNClassifier], ids=["torch", "scratch"])
@pytest.mark.parametrize("cell, layers, text", [
    ("rnn", 1, "16·(28 + 16) + 2·16 = 736"),
    ("lstm", 1, "4·(16·(28 + 16) + 2·16) = 2,944"),
    ("rnn", 2, "16·(28 + 16) + 2·16 + 16·(16 + 16) + 2·16 = 1,280"),
    ("lstm", 2, "4·(16·(28 + 16) + 2·16) + 4·(16·(16 + 16) + 2·16) = 5,120"),
])
def test_recurrent_formulas_and_rows(cls, cell, layers, text):
    m = cls(28, 16, 10, cell=cell, num_layers=layers)
    rows = summarize(m, (28, 28))
    assert [(r.name, r.kind, r.shape, r.formula) for r in rows] == [
        ("rnn", cell.upper(), (1, 28, 16), text), ("fc", "Linear", (1, 10), "16·10 + 10 = 170")]


def test_affine_formulas_are_in_out_on_both_layouts():
    assert [r.formula for r in summarize(MLP(4, [3], 2), (4,)) if r.params] == ["4·3 + 3 = 15", "3·2 + 2 = 8"]
    assert [r.formula for r in summarize(ScratchMLP(4, [3], 2), (4,)) if r.params] == ["4·3 + 3 = 15",
                                                                                      "3·2 + 2 = 8"]
