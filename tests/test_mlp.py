"""The MLP spec: layers, per-layer options, init, parameter counts and summaries."""

import pytest
import torch
from torch import nn

from mlplab.models.activations import Activation
from mlplab.models.mlp import MLP
from mlplab.models.summary import render, summarize


def test_d2l_784_256_10_has_203530_parameters():
    m = MLP(784, [256], 10)
    assert sum(p.numel() for p in m.parameters()) == 203_530
    text = render(summarize(m, (28, 28)), m)
    assert "784·256 + 256 = 200,960" in text and "256·10 + 10 = 2,570" in text and "203,530" in text
    assert "(N, 784)" in text and "(N, 256)" in text and "(N, 10)" in text


def test_images_are_flattened():
    out = MLP(784, [32], 10)(torch.rand(5, 28, 28))
    assert out.shape == (5, 10)


def test_per_layer_activation_and_dropout():
    m = MLP(10, [8, 6], 3, activation=["tanh", "sigmoid"], dropout=[0.1, 0.0])
    acts = [x.name for x in m if isinstance(x, Activation)]
    drops = [x.p for x in m if isinstance(x, nn.Dropout)]
    assert acts == ["tanh", "sigmoid"] and drops == [0.1]
    assert [(x.in_features, x.out_features) for x in m.linears()] == [(10, 8), (8, 6), (6, 3)]


def test_dropout_active_in_train_only():
    m = MLP(20, [64], 2, dropout=0.5)
    x = torch.randn(4, 20)
    m.train()
    assert not torch.equal(m(x), m(x))
    m.eval()
    assert torch.equal(m(x), m(x))


def test_normal_init_std_and_zero_bias():
    m = MLP(784, [256], 10, init="normal:0.01", seed=0)
    w = m.linears()[0].weight
    assert abs(w.std().item() - 0.01) < 5e-4 and abs(w.mean().item()) < 5e-4
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in m.linears())


def test_init_per_layer_and_seeded():
    m = MLP(50, [40], 30, init=["ones", "zeros"])
    assert torch.all(m.linears()[0].weight == 1) and torch.all(m.linears()[1].weight == 0)
    a, b, c = MLP(5, [7], 2, seed=1), MLP(5, [7], 2, seed=1), MLP(5, [7], 2, seed=2)
    assert torch.equal(a[1].weight, b[1].weight) and not torch.equal(a[1].weight, c[1].weight)


def test_default_init_matches_torch_linear_bounds():
    m = MLP(400, [300], 10, init="default", seed=0)
    w, b = m.linears()[0].weight, m.linears()[0].bias
    bound = 1 / 400 ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound and b.abs().max() <= bound


@pytest.mark.parametrize("scheme, std", [("xavier_normal", (2 / (300 + 200)) ** 0.5),
                                         ("kaiming_normal:nonlinearity=relu", (2 / 300) ** 0.5)])
def test_variance_scaling_inits(scheme, std):
    w = MLP(300, [200], 2, init=scheme).linears()[0].weight
    assert abs(w.std().item() - std) / std < 0.03


def test_no_bias_and_output_heads():
    m = MLP(4, [3], 2, bias=False)
    assert all(layer.bias is None for layer in m.linears())
    logp = MLP(4, [3], 5, output="log_softmax")(torch.randn(6, 4))
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(6))
    p = MLP(4, [3], 1, output="sigmoid")(torch.randn(6, 4))
    assert torch.all((p > 0) & (p < 1))


def test_no_hidden_layer_is_softmax_regression():
    m = MLP(784, [], 10)
    assert len(m.linears()) == 1 and sum(p.numel() for p in m.parameters()) == 7850


@pytest.mark.parametrize("kwargs, message", [
    (dict(hidden=[0]), "positive integers"),
    (dict(hidden=[2.5]), "positive integers"),
    (dict(hidden=[-3]), "positive integers"),
    (dict(dropout=1.0), r"\[0, 1\)"),
    (dict(dropout=-0.1), r"\[0, 1\)"),
    (dict(activation="nosuch"), "valid activations: .*relu"),
    (dict(init="nosuch"), "valid inits: .*xavier_uniform"),
    (dict(activation=["relu", "tanh", "relu"]), "one per layer"),
    (dict(init="uniform:0:1:2:3"), "too many positional arguments"),
    (dict(init="normal:-1"), "std must be >= 0"),
    (dict(init="uniform:1:0"), "a <= b"),
    (dict(init="normal:abc"), "std must be a number"),
    (dict(init="kaiming_normal:mode=fan_up"), "does not fit"),
])
def test_bad_specs_are_value_errors(kwargs, message):
    spec = {"hidden": [8, 8], **kwargs}
    with pytest.raises(ValueError, match=message):
        MLP(4, spec.pop("hidden"), 2, **spec)


def test_dropout_without_a_hidden_layer_is_refused_not_ignored():
    with pytest.raises(ValueError, match="dropout acts on hidden layers and this model has none"):
        MLP(4, [], 3, dropout=0.5)
    assert len(MLP(4, [], 3, dropout=0.0)) == 2                  # Flatten, Linear: a plain linear model is fine
