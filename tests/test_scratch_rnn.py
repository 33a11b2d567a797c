"""The scratch RNN and LSTM against torch's in float64: cells, stacks and classifiers, values and gradients with
respect to inputs and parameters over several lengths, batch sizes and depths, and one SGD step."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

import mlplab.models.rnn as torch_rnn
import mlplab.scratch.rnn as scratch_rnn

f64 = dict(dtype=torch.float64)


def grads(out, *tensors):
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), **f64)
    return torch.autograd.grad((out * w).sum(), tensors)


def test_both_sides_have_the_same_cells_and_constructors():
    assert list(scratch_rnn.CELLS) == list(torch_rnn.CELLS)
    assert (inspect.signature(scratch_rnn.RNNClassifier.__init__)
            == inspect.signature(torch_rnn.RNNClassifier.__init__))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_one_cell_step_matches_torch_cell(cell):
    torch.manual_seed(0)
    ref = (nn.RNNCell(3, 5) if cell == "rnn" else nn.LSTMCell(3, 5)).double()
    x = torch.randn(4, 3, **f64, requires_grad=True)
    h = torch.randn(4, 5, **f64, requires_grad=True)
    weights = (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    if cell == "rnn":
        ours, theirs = scratch_rnn.rnn_cell(x, h, *weights), ref(x, h)
    else:
        c = torch.randn(4, 5, **f64)
        ours, theirs = torch.cat(scratch_rnn.lstm_cell(x, (h, c), *weights)), torch.cat(ref(x, (h, c)))
    assert_close(ours, theirs)
    for a, b in zip(grads(ours, x, h, *weights), grads(theirs, x, h, *weights)):
        assert_close(a, b)


# (cell, N, T, D, H, layers)
STACKS = [("rnn", 1, 1, 3, 4, 1), ("rnn", 3, 5, 2, 6, 1), ("rnn", 2, 7, 4, 3, 3),
          ("lstm", 1, 1, 3, 4, 1), ("lstm", 4, 6, 5, 3, 1), ("lstm", 2, 4, 3, 5, 2), ("lstm", 5, 9, 2, 2, 3)]


@pytest.mark.parametrize("cell, n, steps, d, h, layers", STACKS)
def test_stacks_match_torch_outputs_final_states_and_gradients(cell, n, steps, d, h, layers):
    ref = torch_rnn.CELLS[cell](d, h, num_layers=layers, batch_first=True).double()
    ours = scratch_rnn.CELLS[cell](d, h, num_layers=layers).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(n, steps, d, **f64, requires_grad=True)
    (out_a, fin_a), (out_b, fin_b) = ours(x), ref(x)
    fin_a, fin_b = (torch.cat(f) if cell == "lstm" else f for f in (fin_a, fin_b))
    assert fin_a.shape == fin_b.shape
    both_a, both_b = torch.cat([out_a.flatten(), fin_a.flatten()]), torch.cat([out_b.flatten(), fin_b.flatten()])
    assert_close(both_a, both_b)
    for (name, _), a, b in zip([("input", None), *ref.named_parameters()],
                               grads(both_a, x, *ours.parameters()), grads(both_b, x, *ref.parameters())):
        assert_close(a, b, msg=name)


def twins(cell: str, num_layers: int = 1, seed: int = 3, sizes=(28, 16, 10)):
    return (torch_rnn.RNNClassifier(*sizes, cell=cell, num_layers=num_layers, seed=seed).double(),
            scratch_rnn.RNNClassifier(*sizes, cell=cell, num_layers=num_layers, seed=seed).double())


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_classifiers_start_equal_and_agree_on_images(cell, num_layers):
    t, s = twins(cell, num_layers)
    assert list(s.state_dict()) == list(t.state_dict())
    for key, value in t.state_dict().items():
        assert torch.equal(s.state_dict()[key], value), key
    x = torch.randn(3, 28, 28, **f64, requires_grad=True)  # rows as steps
    yt, ys = t(x), s(x)
    assert_close(ys, yt)
    for a, b in zip(grads(ys, x, *s.parameters()), grads(yt, x, *t.parameters())):
        assert_close(a, b)
    assert_close(s(x[:, None]), ys)  # (N, 1, 28, 28) reads the same rows


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_one_sgd_training_step_matches_torch(cell):
    t, s = twins(cell, num_layers=2)
    x, y = torch.randn(8, 28, 28, **f64), torch.randint(0, 10, (8,))
    for model in (t, s):
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    for key, value in t.state_dict().items():
        assert_close(s.state_dict()[key], value, atol=1e-6, rtol=0, msg=key)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_finite_differences_agree_with_autograd_through_the_scratch_stack(cell):
    torch.manual_seed(9)
    model = scratch_rnn.CELLS[cell](2, 2, num_layers=2).double()
    for p in model.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    x = torch.randn(2, 3, 2, **f64, requires_grad=True)
    # fast mode: one random direction instead of the full Jacobian, the same check in seconds less
    assert torch.autograd.gradcheck(lambda x, *ps: model(x)[0], (x, *model.parameters()), fast_mode=True)


@pytest.mark.long
def test_the_scratch_lstm_trains_to_the_torch_lstms_accuracy_on_fashion_mnist(fashion_dir):
    """Same seed, same defaults (``mlplab train --model lstm``), both implementations: within half a point."""
    import mlplab
    from mlplab.data.load import load_dataset

    data = load_dataset("fashion-mnist", data_dir=fashion_dir)
    acc = {impl: mlplab.train(data, model="lstm", impl=impl, seed=0, progress="quiet", device="cpu")
           .metrics["test_accuracy"] for impl in ("torch", "scratch")}
    assert acc["torch"] >= 0.88, acc
    assert abs(acc["scratch"] - acc["torch"]) <= 0.005, acc
