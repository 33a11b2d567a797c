"""Scratch inverted dropout against torch's F.dropout: same mask from the same seed, values, gradients, statistics,
eval mode, edge cases and the integer-tensor error."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from mlplab.models import dropout as torch_dropout
from mlplab.scratch import dropout as scratch

BOTH = [scratch.dropout, torch_dropout.dropout]
IDS = ["scratch", "torch"]


def test_same_signature():
    assert inspect.signature(scratch.dropout) == inspect.signature(torch_dropout.dropout)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_same_global_seed_gives_torchs_mask_values_and_gradients(p):
    x = torch.randn(64, 32, dtype=torch.float64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(3)
    ya = F.dropout(a, p, training=True)
    torch.manual_seed(3)
    yb = scratch.dropout(b, p, training=True)
    assert torch.equal(yb == 0, ya == 0)  # the same mask
    assert_close(yb, ya)
    w = torch.randn(64, 32, dtype=torch.float64)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    assert_close(b.grad, a.grad)


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
@pytest.mark.parametrize("p", [0.3, 0.7])
def test_a_generator_seeded_like_the_global_one_gives_torchs_output(fn, p):
    x = torch.randn(200, 50, dtype=torch.float64)
    torch.manual_seed(5)
    expected = F.dropout(x, p, training=True)
    y = fn(x, p, True, generator=torch.Generator().manual_seed(5))
    assert torch.equal(y == 0, expected == 0)
    assert_close(y, expected)
    again = fn(x, p, True, generator=torch.Generator().manual_seed(5))
    other = fn(x, p, True, generator=torch.Generator().manual_seed(6))
    assert torch.equal(again, y) and not torch.equal(other == 0, y == 0)


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_survivors_are_scaled_by_one_over_keep_and_keep_rate_is_one_minus_p(fn, p):
    x = torch.rand(400, 500, dtype=torch.float64) + 0.5  # no zeros, so a zero output means "dropped"
    y = fn(x, p, True, generator=torch.Generator().manual_seed(0))
    kept = y != 0
    assert_close(y[kept], x[kept] / (1 - p))
    n = x.numel()
    # the kept fraction is Binomial(n, 1 − p) / n: 5 standard deviations around 1 − p
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
@pytest.mark.parametrize("p", [0.3, 0.6])
def test_expected_value_is_the_input(fn, p):
    """Inverted dropout is unbiased: E[y] = x. Averaged over n draws, each element's error has standard deviation
    |x| √(p / ((1 − p) n)); allow 5 of them."""
    n = 20_000
    x = torch.linspace(-2.0, 3.0, 40, dtype=torch.float64)
    draws = fn(x.expand(n, -1).contiguous(), p, True, generator=torch.Generator().manual_seed(1))  # (n, 40)
    bound = 5 * x.abs() * math.sqrt(p / ((1 - p) * n)) + 1e-12
    assert torch.all((draws.mean(0) - x).abs() <= bound)


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_gradient_is_the_mask_over_keep(fn, p):
    x = (torch.rand(30, 20, dtype=torch.float64) + 0.5).requires_grad_()
    y = fn(x, p, True, generator=torch.Generator().manual_seed(2))
    y.sum().backward()
    mask = (y != 0).double()
    assert 0 < mask.mean().item() < 1
    assert torch.equal(x.grad, mask / (1 - p))


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
def test_eval_mode_and_p_zero_are_the_identity_and_p_one_is_zeros(fn):
    x = torch.randn(10, 10)
    assert torch.equal(fn(x, 0.7, training=False), x)
    assert torch.equal(fn(x, 0.0), x)
    assert scratch.dropout(x, 0.0) is x and scratch.dropout(x, 0.7, training=False) is x  # no copy
    zeros = fn(x, 1.0)
    assert torch.equal(zeros, torch.zeros_like(x)) and torch.equal(zeros, F.dropout(x, 1.0))


@pytest.mark.parametrize("fn", BOTH, ids=IDS)
def test_bad_p_is_a_value_error(fn):
    x = torch.randn(3)
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match=r"dropout probability p must be in \[0, 1\]"):
            fn(x, bad)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_tensors_behave_as_in_torch(dtype):
    """torch cannot scale integers by 1/(1 − p): F.dropout raises RuntimeError; so does the scratch twin, with a
    message saying what to do. Where no scaling happens (p = 0, p = 1, eval) both return x's dtype."""
    x = torch.arange(12).reshape(3, 4).to(dtype)
    with pytest.raises(RuntimeError):
        F.dropout(x, 0.5, training=True)
    with pytest.raises(RuntimeError, match=rf"needs a floating point tensor; got dtype {dtype}.*x\.float\(\)"):
        scratch.dropout(x, 0.5, training=True)
    with pytest.raises(RuntimeError):
        torch_dropout.dropout(x, 0.5, True, generator=torch.Generator().manual_seed(0))
    for p, training in ((0.0, True), (1.0, True), (0.5, False)):
        expected = F.dropout(x, p, training)
        y = scratch.dropout(x, p, training)
        assert y.dtype == expected.dtype == dtype and torch.equal(y, expected), (p, training)


def test_module_follows_train_and_eval():
    m = scratch.Dropout(0.5)
    x = torch.ones(1000)
    y = m(x)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    m.eval()
    assert m(x) is x
    assert repr(m) == "Dropout(p=0.5)"
    with pytest.raises(ValueError):
        scratch.Dropout(2.0)
