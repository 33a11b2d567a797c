"""The CNN spec: presets, layers and shapes, parameter counts, seeds, and every spec error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlplab.models.cnn import CNN, PRESETS, plan
from mlplab.scratch.cnn import CNN as ScratchCNN


def test_lenet_is_d2l_6_6_layer_for_layer():
    m = CNN((28, 28), 10, spec="lenet")
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Conv2d", "Activation", "AvgPool2d", "Conv2d", "Activation", "AvgPool2d", "Flatten",
                     "Linear", "Activation", "Linear", "Activation", "Linear"]
    assert (m[0].in_channels, m[0].out_channels, m[0].kernel_size, m[0].padding) == (1, 6, (5, 5), (2, 2))
    assert (m[3].in_channels, m[3].out_channels, m[3].kernel_size, m[3].padding) == (6, 16, (5, 5), (0, 0))
    assert (m[2].kernel_size, m[2].stride) == (2, 2)
    assert [(fc.in_features, fc.out_features) for fc in m if isinstance(fc, nn.Linear)] == [(400, 120), (120, 84),
                                                                                          (84, 10)]
    assert {a.name for a in m if type(a).__name__ == "Activation"} == {"sigmoid"}
    assert sum(p.numel() for p in m.parameters()) == 61_706
    # d2l's shape walk: 6×28×28, 6×14×14, 16×10×10, 16×5×5, 400, 120, 84, 10
    assert [layer.shape for layer in m.plan if layer.kind != "act"] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]


@pytest.mark.parametrize("cls", [CNN, ScratchCNN], ids=["torch", "scratch"])
@pytest.mark.parametrize("spec", list(PRESETS))
@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28)])
def test_presets_take_images_with_or_without_a_channel(cls, spec, shape):
    m = cls(shape, 10, spec=spec).eval()
    assert m(torch.zeros(2, 28, 28)).shape == (2, 10)
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cnn_preset_is_conv_batchnorm_relu_maxpool_blocks():
    m = CNN((28, 28), 10, spec="cnn")
    assert [type(layer).__name__ for layer in m][:8] == ["Conv2d", "BatchNorm2d", "Activation", "MaxPool2d"] * 2
    assert [c.out_channels for c in m if isinstance(c, nn.Conv2d)] == [32, 64]


@pytest.mark.parametrize("spec, shapes", [
    ("conv:4:3", [(4, 6, 6), (144,), (2,)]),
    ("conv:4:3:stride2", [(4, 3, 3), (36,), (2,)]),
    ("conv:4:3:pad1:stride2", [(4, 4, 4), (64,), (2,)]),
    ("conv:4:3:stride2:pad1", [(4, 4, 4), (64,), (2,)]),
    ("maxpool:3:stride1:pad1,bn", [(3, 8, 8), (3, 8, 8), (192,), (2,)]),
    ("avgpool:3", [(3, 2, 2), (12,), (2,)]),
    ("flatten,fc:5,relu,dropout:0.5", [(192,), (5,), (5,), (5,), (2,)]),
])
def test_spec_grammar_and_output_shapes(spec, shapes):
    layers = plan((3, 8, 8), 2, spec)
    assert [layer.shape for layer in layers] == shapes
    m = CNN((3, 8, 8), 2, spec=spec).eval()
    x = torch.zeros(4, 3, 8, 8)
    for layer, module in zip(layers, m):
        x = module(x)
        assert x.shape[1:] == layer.shape


def test_the_same_seed_gives_the_same_weights_and_another_seed_others():
    a, b, c = (CNN((28, 28), 10, spec="lenet", seed=s) for s in (1, 1, 2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_default_init_is_torchs_reset_bound_and_other_inits_apply():
    m = CNN((28, 28), 10, spec="conv:8:3,relu")
    bound = 1 / (1 * 3 * 3) ** 0.5  # 1/√fan_in, fan_in = C_in·K·K
    assert m[0].weight.abs().max() <= bound and m[0].weight.abs().max() > 0.8 * bound
    m = CNN((28, 28), 10, spec="conv:8:3,relu", init="kaiming_normal:nonlinearity=relu")
    assert torch.all(m[0].bias == 0) and m[0].weight.std() > bound


@pytest.mark.parametrize("spec, words", [
    ("conv:6,relu", ["'conv:6'", "conv needs channels and a kernel size"]),
    ("convv:6:5", ["'convv:6:5'", "not a layer", "valid items", "conv:C:K", "relu", "lenet"]),
    ("lenett", ["'lenett'", "not a layer", "a preset: lenet, cnn"]),
    ("conv:0:3", ["channels must be an integer >= 1, got '0'"]),
    ("conv:4:3:pad-1", ["unknown option 'pad-1'"]),
    ("conv:4:3:dilation2", ["unknown option 'dilation2'", "stride2, pad1"]),
    ("conv:4:9", ["a 9×9 window needs an input of at least 9×9; it gets 8×8"]),
    ("conv:4:5,conv:4:5", ["'conv:4:5'", "it gets 4×4"]),
    ("maxpool:2:pad2", ["padding must be at most half the window (1)"]),
    ("maxpool", ["maxpool needs a window size"]),
    ("flatten,conv:2:3", ["'conv:2:3'", "after flatten"]),
    ("fc:10,bn", ["'bn'", "after flatten or fc"]),
    ("dropout:1.5", ["dropout probability must be in [0, 1), got '1.5'"]),
    ("fc:", ["width must be an integer >= 1, got ''"]),
    ("fc:10:3", ["fc needs one width, e.g. fc:128"]),
    ("dropout", ["dropout needs one probability"]),
    ("bn:4", ["bn takes no arguments"]),
    ("relu:2", ["'relu:2'", "not a layer"]),
    ("output", ["'output'", "not a layer"]),
    ("conv:4:3,,relu", ["''", "not a layer"]),
])
def test_spec_errors_name_the_item_and_list_the_valid_ones(spec, words):
    with pytest.raises(ValueError) as e:
        CNN((8, 8), 2, spec=spec)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(input_shape=(784,), output_size=10, spec="lenet"), ["input_shape must be (H, W) or (C, H, W)", "(784,)"]),
    (dict(input_shape=(28, 0), output_size=10, spec="lenet"), ["input_shape", "(28, 0)"]),
    (dict(input_shape=(28, 28), output_size=0, spec="lenet"), ["output_size must be a positive integer; got 0"]),
    (dict(input_shape=(28, 28), output_size=10, spec=""), ["spec must be a non-empty string", "lenet, cnn"]),
    (dict(input_shape=(28, 28), output_size=10, spec=None), ["got None"]),
    (dict(input_shape=(28, 28), output_size=10, spec="lenet", init="normall"), ["unknown init 'normall'"]),
])
def test_constructor_errors(kwargs, words):
    for cls in (CNN, ScratchCNN):
        with pytest.raises(ValueError) as e:
            cls(**kwargs)
        for w in words:
            assert w in str(e.value)
