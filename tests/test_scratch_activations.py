"""Scratch activations against torch's: values and gradients in float64, gradcheck, extremes, same names."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.testing import assert_close

from mlplab.models import activations as ours_torch
from mlplab.scratch import activations as scratch

NAMES = sorted(ours_torch.ACTIVATIONS)
OPTIONS = {"leaky_relu": [{}, {"negative_slope": 0.2}], "elu": [{}, {"alpha": 0.5}], "softmax": [{}, {"dim": 0}]}


CASES = [pytest.param(name, opts, id=f"{name}-{opts}") for name in NAMES for opts in OPTIONS.get(name, [{}])]


def test_both_registries_list_the_same_activations_with_the_same_signatures():
    assert list(scratch.ACTIVATIONS) == list(ours_torch.ACTIVATIONS)
    for name in NAMES:
        assert inspect.signature(scratch.ACTIVATIONS[name]) == inspect.signature(ours_torch.ACTIVATIONS[name])


@pytest.mark.parametrize("name,opts", CASES)
def test_values_and_gradients_match_torch(name, opts):
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours_torch.ACTIVATIONS[name](a, **opts), scratch.ACTIVATIONS[name](b, **opts)
    assert_close(yb, ya)
    w = torch.randn_like(x)  # a random upstream gradient, so softmax's Jacobian is exercised fully
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    assert_close(b.grad, a.grad)


@pytest.mark.parametrize("name,opts", CASES)
def test_gradcheck_against_finite_differences(name, opts):
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = torch.where(x.abs() < 1e-3, 0.5, x).requires_grad_()  # keep relu's kink away from the finite differences
    assert torch.autograd.gradcheck(lambda t: scratch.ACTIVATIONS[name](t, **opts), (x,))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "silu", "softmax", "gelu"])
def test_extreme_inputs_stay_finite_and_match(name):
    x = torch.tensor([[-1000.0, -50.0, -1e-8, 0.0, 1e-8, 50.0, 1000.0]], dtype=torch.float64, requires_grad=True)
    y = scratch.ACTIVATIONS[name](x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert_close(y, ours_torch.ACTIVATIONS[name](x.detach()))


def test_softmax_subtracts_the_row_maximum():
    x = torch.tensor([[1000.0, 1001.0], [-5.0, -5.0]])
    assert_close(scratch.softmax(x), torch.tensor([[0.2689414, 0.7310586], [0.5, 0.5]]))


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = torch.zeros(3, requires_grad=True)
    scratch.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'relu6'; valid activations: elu, gelu"):
        scratch.get_activation("relu6")
    assert scratch.Activation("tanh").fn is scratch.tanh
