"""Scratch losses against torch's (float64 values and gradients, every reduction), worked examples, misuse."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from mlplab import worked_examples
from mlplab.scratch import losses as scratch
from mlplab.training import losses as torch_losses

REDUCTIONS = ["mean", "sum", "none"]
G = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64, generator=G)


def both(name, input, target, **opts):
    """Each side's loss and input gradient, under the same random upstream gradient."""
    results = []
    for registry in (torch_losses.LOSSES, scratch.LOSSES):
        x = input.clone().requires_grad_()
        loss = registry[name](x, target, **opts)
        w = torch.randn(loss.shape, dtype=loss.dtype, generator=torch.Generator().manual_seed(1))
        (loss * w).sum().backward()
        results.append((loss.detach(), x.grad))
    return results


def inputs(name, shape=(6, 4)):
    """A valid (input, target) pair for loss ``name``."""
    n, c = shape[0], shape[1]
    if name in ("l1", "smooth_l1", "mse"):
        return randn(*shape), randn(*shape)
    if name == "bce":
        return torch.sigmoid(randn(*shape)), torch.rand(*shape, dtype=torch.float64, generator=G)
    if name == "bce_with_logits":
        return randn(*shape) * 3, torch.randint(0, 2, shape, generator=G).double()
    target = torch.randint(0, c, (n, *shape[2:]), generator=G)
    if name == "nll":
        return torch.log_softmax(randn(*shape), dim=1), target
    return randn(*shape) * 2, target


def test_both_registries_list_the_same_losses_with_the_same_signatures():
    assert list(scratch.LOSSES) == list(torch_losses.LOSSES)
    for name, fn in torch_losses.LOSSES.items():
        assert inspect.signature(scratch.LOSSES[name]) == inspect.signature(fn)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(torch_losses.LOSSES))
def test_values_and_gradients_match_torch(name, reduction):
    (a, ga), (b, gb) = both(name, *inputs(name), reduction=reduction)
    assert_close(b, a)
    assert_close(gb, ga)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["cross_entropy", "nll"])
def test_per_pixel_inputs(name, reduction):
    (a, ga), (b, gb) = both(name, *inputs(name, (3, 5, 4, 2)), reduction=reduction)
    assert a.shape == ((3, 4, 2) if reduction == "none" else ())
    assert_close(b, a)
    assert_close(gb, ga)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4, 2)])
def test_cross_entropy_with_probability_targets_and_label_smoothing(shape, smoothing, reduction):
    probs = torch.softmax(randn(*shape), dim=1)
    (a, ga), (b, gb) = both("cross_entropy", randn(*shape), probs, reduction=reduction, label_smoothing=smoothing)
    assert_close(b, a)
    assert_close(gb, ga)
    x, y = inputs("cross_entropy", shape)
    (a, ga), (b, gb) = both("cross_entropy", x, y, reduction=reduction, label_smoothing=smoothing)
    assert_close(b, a)
    assert_close(gb, ga)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_beta(beta):
    (a, ga), (b, gb) = both("smooth_l1", *inputs("smooth_l1"), beta=beta)
    assert_close(b, a)
    assert_close(gb, ga)


def test_extreme_logits_stay_finite():
    x = torch.tensor([[1000.0, -1000.0, 0.0]], dtype=torch.float64)
    assert_close(scratch.cross_entropy(x, torch.tensor([1])), F.cross_entropy(x, torch.tensor([1])))
    z = torch.tensor([[800.0], [-800.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    assert_close(scratch.bce_with_logits(z, y), F.binary_cross_entropy_with_logits(z, y))
    p = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    assert_close(scratch.bce(p, y), F.binary_cross_entropy(p, y))  # logs clamped at −100, as torch's


# --- the tutorials' worked example: prediction [[1,1],[1,1]] against target [[0,1],[2,3]] --------------------

PRED = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
TARGET = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
# worked by hand; softmax([1, 1]) = [½, ½], so every −log softmax term is ln 2
HAND = {("l1", "float"): 1.0,                          # (1 + 0 + 1 + 2) / 4
        ("smooth_l1", "float"): 0.625,                 # (0.5 + 0 + 0.5 + 1.5) / 4
        ("mse", "float"): 1.5,                         # (1 + 0 + 1 + 4) / 4
        ("cross_entropy", "float"): 3 * math.log(2),   # rows weigh ln 2 by (0 + 1) and (2 + 3): 6 ln 2 / 2 rows
        ("cross_entropy", "indices"): math.log(2)}     # class indices [0, 1]: ln 2 per row


@pytest.mark.parametrize("registry", [torch_losses.LOSSES, scratch.LOSSES], ids=["torch", "scratch"])
def test_golden_numbers(registry):
    assert registry["l1"](PRED, TARGET).item() == pytest.approx(1.0)
    assert registry["smooth_l1"](PRED, TARGET).item() == pytest.approx(0.625)
    assert registry["mse"](PRED, TARGET).item() == pytest.approx(1.5)
    ce = registry["cross_entropy"](PRED, TARGET)
    assert ce.item() == pytest.approx(3 * math.log(2)) and round(ce.item(), 4) == 2.0794
    assert registry["cross_entropy"](PRED, torch.tensor([0, 1])).item() == pytest.approx(math.log(2))
    assert registry["cross_entropy"](PRED, TARGET, reduction="sum").item() == pytest.approx(6 * math.log(2))


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_worked_examples_table_holds_the_hand_numbers(impl):
    """``mlplab losses`` prints worked_examples.loss_examples: its expected column and each side's values."""
    rows = worked_examples.loss_examples(impl)
    assert [(name, target) for name, target, *_ in rows] == list(HAND)
    assert worked_examples.TARGETS["indices"].dtype == torch.int64
    assert worked_examples.TARGETS["float"].is_floating_point()
    for name, target, value, expected, how in rows:
        assert expected == round(HAND[name, target], 4), (name, target)
        assert value == pytest.approx(HAND[name, target], abs=1e-6), (name, target)


def test_l2_penalty_is_half_lambda_squared_norm_of_weights_only():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(2.0)
    assert scratch.l2_penalty(model, 0.1).item() == pytest.approx(0.1 / 2 * 4 * (4 + 2))


# --- misuse: one line saying what the loss expects and what to use instead ---------------------------------

MISUSE = [
    ("bce", torch.tensor([[0.2], [0.9]]), torch.tensor([[0.0], [2.0]]),
     r"bce expects targets in \[0, 1\].*cross_entropy"),
    ("bce_with_logits", torch.tensor([[0.2], [-3.0]]), torch.tensor([[-1.0], [1.0]]), r"targets in \[0, 1\]"),
    ("bce", torch.tensor([[2.5], [-1.0]]), torch.tensor([[1.0], [0.0]]), r"probabilities in \[0, 1\].*bce_with_logits"),
    ("nll", torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 1, 2, 0]),
     "log-probabilities.*look like probabilities"),
    ("nll", torch.randn(4, 3) + 5, torch.tensor([0, 1, 2, 0]), "log-probabilities.*cross_entropy on the raw logits"),
    ("cross_entropy", torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 1, 2, 0]), "raw logits.*softmax output"),
    ("cross_entropy", torch.randn(4, 3), torch.tensor([0, 1, 3, 0]), r"class index 3 but the output has 3 classes"),
    ("nll", torch.log_softmax(torch.randn(4, 3), 1), torch.tensor([0, -1, 2, 0]), r"class index -1 .*valid: 0 to 2"),
    ("cross_entropy", torch.randn(4, 3), torch.tensor([0.0, 1.0, 2.0, 0.0]), r"integer tensor.*\.long\(\)"),
    ("mse", torch.randn(4, 1), torch.randn(4), r"same shape.*reshape the target to \(4, 1\)"),
]


@pytest.mark.parametrize("registry", [torch_losses.LOSSES, scratch.LOSSES], ids=["torch", "scratch"])
@pytest.mark.parametrize("name,input,target,message", MISUSE, ids=[m[-1][:30] for m in MISUSE])
def test_misuse_is_caught_in_one_line(registry, name, input, target, message):
    with pytest.raises((ValueError, TypeError), match=message) as info:
        registry[name](input, target)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


TORCH_NAMES = {"l1": "l1_loss", "smooth_l1": "smooth_l1_loss", "mse": "mse_loss", "bce": "binary_cross_entropy",
               "bce_with_logits": "binary_cross_entropy_with_logits", "nll": "nll_loss"}


def test_correct_use_passes_the_checks_and_gives_torchs_value():
    for name in torch_losses.LOSSES:
        x, y = inputs(name)
        x, y = x.float(), (y.float() if y.is_floating_point() else y)
        for registry in (torch_losses.LOSSES, scratch.LOSSES):
            value = registry[name](x, y)
            assert value.shape == () and torch.isfinite(value), name
            assert_close(value, getattr(F, TORCH_NAMES.get(name, name))(x, y), msg=name)
    with pytest.raises(ValueError, match="reduction must be mean, sum or none"):
        scratch.LOSSES["mse"](PRED, TARGET, reduction="avg")

