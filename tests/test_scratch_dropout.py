"""Scratch inverted dropout against torch's: the same mask from the same seed, values, gradients, edge cases."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from mlplab.models import dropout as torch_dropout
from mlplab.scratch import dropout as scratch


def test_same_signature():
    assert inspect.signature(scratch.dropout) == inspect.signature(torch_dropout.dropout)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_same_seed_gives_torchs_mask_values_and_gradients(p):
    x = torch.randn(64, 32, dtype=torch.float64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(3)
    ya = F.dropout(a, p, training=True)
    torch.manual_seed(3)
    yb = scratch.dropout(b, p, training=True)
    assert_close(yb, ya)
    assert torch.equal(yb == 0, ya == 0)  # the same mask
    ya.sum().backward()
    yb.sum().backward()
    assert_close(b.grad, a.grad)


def test_fixed_mask_from_a_generator_is_mask_times_x_over_keep():
    x = torch.randn(200, 50, dtype=torch.float64)
    p = 0.3
    mask = torch.empty_like(x).bernoulli_(1 - p, generator=torch.Generator().manual_seed(5))
    for fn in (scratch.dropout, torch_dropout.dropout):
        y = fn(x, p, True, generator=torch.Generator().manual_seed(5))
        assert_close(y, mask * x / (1 - p))
    assert 0.25 < (mask == 0).double().mean().item() < 0.35


def test_edge_cases():
    x = torch.randn(10, 10)
    assert scratch.dropout(x, 0.0) is x
    assert scratch.dropout(x, 0.7, training=False) is x
    assert torch.equal(scratch.dropout(x, 1.0), torch.zeros_like(x))
    assert torch.equal(torch_dropout.dropout(x, 1.0), torch.zeros_like(x))
    for fn in (scratch.dropout, torch_dropout.dropout):
        for bad in (-0.1, 1.5, "0.5", True):
            with pytest.raises(ValueError, match=r"dropout probability p must be in \[0, 1\]"):
                fn(x, bad)


def test_module_follows_train_and_eval():
    m = scratch.Dropout(0.5)
    x = torch.ones(1000)
    assert (m(x) == 0).any() and set(m(x).unique().tolist()) <= {0.0, 2.0}
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError):
        scratch.Dropout(2.0)
