"""The CNN built from a layer spec with torch.nn: convolutions, pooling, batch norm, then a Linear head.

A spec is a comma-separated list of layers, read left to right (or a preset name, see ``PRESETS``):

    conv:C:K[:strideS][:padP]   Conv2d to C channels, K×K kernel (stride 1, padding 0 unless given)
    maxpool:K[:strideS][:padP]  MaxPool2d over K×K windows (stride K unless given, as torch)
    avgpool:K[:strideS][:padP]  AvgPool2d, the same (padding counts as zeros, as torch's default)
    bn                          BatchNorm2d over the channels the previous layer gives
    flatten                     (N, C, H, W) → (N, C·H·W); inserted before the first fc when left out
    fc:N                        Linear to N features
    dropout:P                   Dropout with probability P
    relu, sigmoid, tanh, ...    any name in ``mlplab.models.activations.ACTIVATIONS``

The last layer, a Linear to ``output_size``, is always appended. Output side of a K×K window with stride S
and padding P: ⌊(H + 2P − K) / S⌋ + 1. Parameters: conv K·K·C_in·C_out + C_out, bn 2·C, fc in·out + out.

>>> CNN((28, 28), 10, spec="lenet")[0]        # LeNet-5 as d2l §6.6 writes it
Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))

The scratch twin (``mlplab.scratch.cnn.CNN``) reads the same spec through ``plan`` and has the same
state_dict keys and shapes, so ``scratch.load_state_dict(torch_cnn.state_dict())`` works.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mlplab.models.activations import ACTIVATIONS, Activation
from mlplab.models.init import init_linear, parse_init

PRESETS = {
    # LeNet-5 (LeCun et al., 1998) as d2l §6.6: sigmoid and average pooling, 61,706 parameters.
    "lenet": "conv:6:5:pad2,sigmoid,avgpool:2,conv:16:5,sigmoid,avgpool:2,flatten,fc:120,sigmoid,fc:84,sigmoid",
    # A small modern CNN for Fashion-MNIST: two conv–batchnorm–ReLU–maxpool blocks, then a small head.
    "cnn": "conv:32:3:pad1,bn,relu,maxpool:2,conv:64:3:pad1,bn,relu,maxpool:2,flatten,fc:128,relu,dropout:0.3",
}
GRAMMAR = ("conv:C:K[:strideS][:padP], maxpool:K[:strideS][:padP], avgpool:K[:strideS][:padP], bn, flatten, "
           "fc:N, dropout:P, or an activation (" + ", ".join(ACTIVATIONS) + ")")

# The layer of each kind, called with the keyword arguments ``plan`` gives; the scratch side has the same keys.
LAYERS = {"conv": nn.Conv2d, "maxpool": nn.MaxPool2d, "avgpool": nn.AvgPool2d, "bn": nn.BatchNorm2d,
          "flatten": nn.Flatten, "fc": nn.Linear, "dropout": nn.Dropout, "act": Activation}


@dataclass(frozen=True)
class Layer:
    """One planned layer: its kind (a key of ``LAYERS``), constructor arguments and one sample's output shape."""
    kind: str
    kwargs: dict
    shape: tuple[int, ...]


def _bad(item: str, why: str) -> ValueError:
    """The error for one spec item; an unknown item also lists every valid one."""
    valid = f"; valid items: {GRAMMAR}; or a preset: {', '.join(PRESETS)}" if why == "not a layer" else ""
    return ValueError(f"CNN spec item {item!r}: {why}{valid}")


def _int(item: str, text: str, what: str, low: int) -> int:
    if not text.isdigit() or int(text) < low:
        raise _bad(item, f"{what} must be an integer >= {low}, got {text!r}")
    return int(text)


def _window(item: str, parts: list[str], stride: int | None) -> tuple[int, int]:
    """Read the optional ``strideS`` and ``padP`` parts (any order); stride defaults to ``stride``."""
    options = {"stride": stride, "pad": 0}
    for part in parts:
        key = part.rstrip("0123456789")
        if key not in options:
            raise _bad(item, f"unknown option {part!r} (options: strideS, padP, e.g. stride2, pad1)")
        options[key] = _int(item, part[len(key):], key, 1 if key == "stride" else 0)
    return options["stride"], options["pad"]


def _spatial(item: str, shape: tuple, k: int, s: int, p: int) -> tuple[int, int, int]:
    """(C, H', W') after a K×K window with stride S and padding P: H' = ⌊(H + 2P − K) / S⌋ + 1."""
    c, h, w = shape
    if h + 2 * p < k or w + 2 * p < k:
        raise _bad(item, f"a {k}×{k} window needs an input of at least {k}×{k}; it gets {h}×{w} (padding {p})")
    return c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1


def plan(input_shape: tuple[int, ...], output_size: int, spec: str) -> list[Layer]:
    """Check ``spec`` against ``input_shape`` ((H, W) or (C, H, W)) and plan every layer, output included.

    >>> [layer.shape for layer in plan((28, 28), 10, "conv:4:3:stride2,relu")]
    [(4, 13, 13), (4, 13, 13), (676,), (10,)]
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"CNN spec must be a non-empty string of layers or a preset ({', '.join(PRESETS)}); "
                         f"got {spec!r}")
    spec = PRESETS.get(spec.strip(), spec)
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (1, *shape)  # (H, W) images get one channel
    if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in shape):
        raise ValueError(f"CNN input_shape must be (H, W) or (C, H, W) of positive integers; got {input_shape!r}")
    if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size <= 0:
        raise ValueError(f"CNN output_size must be a positive integer; got {output_size!r}")
    layers: list[Layer] = []

    def add(kind: str, shape_out: tuple, **kwargs) -> None:
        layers.append(Layer(kind, kwargs, shape_out))

    for item in [*(i.strip() for i in spec.split(",")), f"fc:{output_size}"]:  # the output layer last
        name, *parts = item.split(":")
        flat = len(shape) == 1
        if flat and name in ("conv", "maxpool", "avgpool", "bn"):
            raise _bad(item, "comes after flatten or fc, where there are no channels or pixels left")
        if not flat and name == "fc":
            shape = (shape[0] * shape[1] * shape[2],)
            add("flatten", shape)
        if name == "conv":
            if len(parts) < 2:
                raise _bad(item, "conv needs channels and a kernel size, e.g. conv:32:3:pad1")
            c, k = _int(item, parts[0], "channels", 1), _int(item, parts[1], "kernel size", 1)
            s, p = _window(item, parts[2:], 1)
            c_in, shape = shape[0], (c, *_spatial(item, shape, k, s, p)[1:])
            add("conv", shape, in_channels=c_in, out_channels=c, kernel_size=k, stride=s, padding=p)
        elif name in ("maxpool", "avgpool"):
            if not parts:
                raise _bad(item, f"{name} needs a window size, e.g. {name}:2")
            k = _int(item, parts[0], "window size", 1)
            s, p = _window(item, parts[1:], k)
            if p > k // 2:
                raise _bad(item, f"padding must be at most half the window ({k // 2}), as torch requires")
            shape = _spatial(item, shape, k, s, p)
            add(name, shape, kernel_size=k, stride=s, padding=p)
        elif name in ("bn", "flatten") and parts:
            raise _bad(item, f"{name} takes no arguments, write it as {name!r}")
        elif name == "bn":
            add("bn", shape, num_features=shape[0])
        elif name == "flatten":
            if not flat:
                shape = (shape[0] * shape[1] * shape[2],)
                add("flatten", shape)
        elif name == "fc":
            if len(parts) != 1:
                raise _bad(item, "fc needs one width, e.g. fc:128")
            n = _int(item, parts[0], "width", 1)
            add("fc", (n,), in_features=shape[0], out_features=n)
            shape = (n,)
        elif name == "dropout":
            if len(parts) != 1:
                raise _bad(item, "dropout needs one probability, e.g. dropout:0.5")
            try:
                p = float(parts[0])
            except ValueError:
                p = -1.0
            if not 0 <= p < 1:
                raise _bad(item, f"dropout probability must be in [0, 1), got {parts[0]!r}")
            add("dropout", shape, p=p)
        elif name in ACTIVATIONS and not parts:
            add("act", shape, name=name)
        else:
            raise _bad(item, "not a layer")
    return layers


def build(layers: list[Layer], registry: dict) -> list[nn.Module]:
    """One module per planned layer, from ``registry`` (``LAYERS`` here, its twin in ``mlplab.scratch.cnn``)."""
    return [registry[layer.kind](**layer.kwargs) for layer in layers]


def init_weights(model: nn.Module, init: str, seed: int, init_fn=init_linear) -> None:
    """Initialise every conv and fc layer in order from one generator seeded with ``seed``.

    ``default`` is torch's own reset: weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = C_in·K·K for a
    conv, in for a Linear. Batch norm starts at γ = 1, β = 0 on both sides without randomness.
    """
    parse_init(init)  # a bad name fails before anything is drawn
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        weight = getattr(m, "weight", None)
        if isinstance(weight, Tensor) and weight.ndim >= 2:
            init_fn(m.weight, m.bias, init, generator=g, fan_in=weight[0].numel())


class CNN(nn.Sequential):
    """A convolutional network from a spec (see the module docstring) or a preset: ``lenet``, ``cnn``.

    Takes (N, C, H, W), or (N, H, W) which gets one channel. ``init`` is a weight init spec for the conv and fc
    layers (``mlplab.models.init``), biases start at zero unless it is ``default``.

    >>> sum(p.numel() for p in CNN((28, 28), 10, spec="lenet").parameters())
    61706
    """

    def __init__(self, input_shape: tuple[int, ...], output_size: int, *, spec: str, init: str = "default",
                 seed: int = 0):
        layers = plan(input_shape, output_size, spec)
        super().__init__(*build(layers, LAYERS))
        self.plan = layers
        init_weights(self, init, seed)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)    # (N, H, W) → (N, 1, H, W)
        return super().forward(x)  # (N, output_size)
