"""Scratch initialisation: the same numbers as torch's under the same generator, and the right distributions."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch.testing import assert_close

from mlplab.models import init as torch_init
from mlplab.models.mlp import MLP as TorchMLP
from mlplab.scratch import init as scratch
from mlplab.scratch.mlp import MLP as ScratchMLP

# Bit for bit: the draws are torch's randn/rand on the same generator, rounded as torch's kernels round.
EXACT = ["zeros", "ones", "constant", "eye", "normal", "uniform", "xavier_normal"]
# The presets compute their bound as √(scale / n) (Keras's variance scaling) where torch writes gain · √(1 / n):
# the same number up to the last bit, so the same draws to within one rounding.
PRESETS = ["xavier_uniform", "kaiming_normal", "kaiming_uniform"]


def fill(fn, shape, dtype=torch.float32, seed=0, **kwargs):
    w = torch.empty(shape, dtype=dtype)
    fn(w, generator=torch.Generator().manual_seed(seed), **kwargs)
    return w


def test_both_registries_list_the_same_inits_with_the_same_signatures():
    assert list(scratch.INITS) == list(torch_init.INITS)
    for name, fn in torch_init.INITS.items():
        assert inspect.signature(scratch.INITS[name]) == inspect.signature(fn)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(5, 3), (256, 784), (10, 256)])
@pytest.mark.parametrize("name", EXACT)
def test_same_generator_gives_identical_values(name, shape, dtype):
    assert torch.equal(fill(scratch.INITS[name], shape, dtype), fill(torch_init.INITS[name], shape, dtype))


@pytest.mark.parametrize("kwargs", [{}, {"mode": "fan_out"}, {"nonlinearity": "relu"}, {"a": 0.2}])
@pytest.mark.parametrize("name", PRESETS)
def test_presets_match_torch_to_one_rounding(name, kwargs):
    if name == "xavier_uniform":
        kwargs = {"gain": 2.0} if kwargs else {}
    for dtype in (torch.float32, torch.float64):
        assert_close(fill(scratch.INITS[name], (64, 100), dtype, **kwargs),
                     fill(torch_init.INITS[name], (64, 100), dtype, **kwargs), rtol=1e-6, atol=0)


def test_gain_table_matches_torch():
    for name in scratch.GAINS:
        for a in (None, 0.2):
            expected = torch.nn.init.calculate_gain(name, a) if name == "leaky_relu" else \
                torch.nn.init.calculate_gain(name)
            assert scratch.gain(name, a) == pytest.approx(expected)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        scratch.gain("softplus")


def test_fans_follow_torchs_layout():
    assert scratch.fans(torch.empty(3, 5)) == (5, 3)
    assert scratch.fans(torch.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        scratch.fans(torch.empty(4))


BIG = (1000, 2000)  # 2 million draws: sample moments within ~0.3% of the formula
FAN_IN, FAN_OUT = BIG[1], BIG[0]


@pytest.mark.parametrize("spec,std,bound", [
    ("normal:0.01", 0.01, None),
    ("uniform:-0.3:0.3", 0.3 / math.sqrt(3), 0.3),
    ("xavier_normal", math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    ("xavier_uniform:2", 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)), 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("kaiming_normal:nonlinearity=relu", math.sqrt(2 / FAN_IN), None),
    ("kaiming_normal:mode=fan_out:nonlinearity=relu", math.sqrt(2 / FAN_OUT), None),
    ("kaiming_uniform:nonlinearity=relu", math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    ("kaiming_uniform:a=2.23606797749979", 1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN)),  # nn.Linear's own
])
def test_distributions_on_a_large_tensor(spec, std, bound):
    w = torch.empty(BIG, dtype=torch.float64)
    scratch.init_tensor(w, spec, torch.Generator().manual_seed(0))
    assert abs(w.mean().item()) < 3 * std / math.sqrt(w.numel()) + 1e-12
    assert w.std().item() == pytest.approx(std, rel=5e-3)
    if bound is not None:
        assert w.abs().max().item() <= bound
        assert w.abs().max().item() > 0.999 * bound  # the whole interval is used


def test_constant_eye_and_bad_specs():
    assert fill(scratch.constant, (2, 2), val=0.5).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert fill(scratch.eye, (2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match=r"does not fit a tensor of shape \(4,\)"):
        scratch.init_tensor(torch.empty(4), "xavier_normal")
    with pytest.raises(ValueError, match="mode must be fan_in, fan_out or fan_avg"):
        scratch.init_tensor(torch.empty(4, 4), "kaiming_normal:mode=fan_sideways")
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        scratch.init_tensor(torch.empty(4, 4), "glorot")


@pytest.mark.parametrize("init", ["default", "normal:0.01", "xavier_normal", "kaiming_uniform", "uniform:-0.1:0.1"])
def test_models_start_from_the_same_numbers(init):
    t = TorchMLP(20, [16, 8], 3, init=init, seed=7)
    s = ScratchMLP(20, [16, 8], 3, init=init, seed=7)
    for lt, ls in zip(t.linears(), s.linears()):
        assert torch.equal(ls.W, lt.weight.T) and torch.equal(ls.b, lt.bias)
    assert not torch.equal(ScratchMLP(20, [16, 8], 3, init=init, seed=8).linears()[0].W, s.linears()[0].W) \
        or init.startswith(("zeros", "ones"))


@pytest.mark.parametrize("weight_spec,bias_spec", [("xavier_uniform", "zeros"), ("normal:0.02", "constant:0.1"),
                                                   ("kaiming_normal", "default"), ("default", "zeros")])
def test_init_model_applies_one_rule_to_weights_and_one_to_biases(weight_spec, bias_spec):
    t = torch_init.init_model(TorchMLP(6, [5, 4], 3), weight_spec, bias_spec, seed=2)
    s = scratch.init_model(ScratchMLP(6, [5, 4], 3), weight_spec, bias_spec, seed=2)
    for lt, ls in zip(t.linears(), s.linears()):
        assert_close(ls.W, lt.weight.T, rtol=1e-6, atol=0)
        assert_close(ls.b, lt.bias, rtol=1e-6, atol=0)
    if bias_spec == "constant:0.1":
        assert t.linears()[0].bias.tolist() == pytest.approx([0.1] * 5)
