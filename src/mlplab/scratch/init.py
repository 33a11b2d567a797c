"""Weight initialisation from the formulas; the same names, signatures and specs as ``mlplab.models.init``.

Everything random is one general rule, variance scaling (as Keras's ``VarianceScaling``): draw with
variance ``scale / n``, n = fan_in, fan_out or their mean; Xavier and Kaiming are one-line presets of it.
The elementary draws are torch's own ``randn``/``rand`` on the given generator, consumed in the order torch's
``normal_``/``uniform_`` consume it, so the same generator gives the same numbers as ``mlplab.models.init``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mlplab.models.init import SPECIAL, parse_init  # noqa: F401  (spec parsing is not math: one parser for both sides)

# calculate_gain: the factor that keeps activations' variance steady through a nonlinearity.
GAINS = {
    "linear": lambda a: 1.0,
    "sigmoid": lambda a: 1.0,
    "tanh": lambda a: 5.0 / 3,
    "relu": lambda a: math.sqrt(2.0),
    "leaky_relu": lambda a: math.sqrt(2.0 / (1 + (0.01 if a is None else a) ** 2)),
    "selu": lambda a: 3.0 / 4,
}


def gain(nonlinearity: str, a: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (``a``: leaky_relu's negative slope)."""
    if nonlinearity not in GAINS:
        raise ValueError(f"nonlinearity must be one of {', '.join(GAINS)}; got {nonlinearity!r}")
    return GAINS[nonlinearity](a)


def fans(w: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) in torch's layout: weight (out, in, *kernel), fan = channels · kernel size."""
    if w.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor of at least 2 dimensions; got shape {tuple(w.shape)}")
    receptive = math.prod(w.shape[2:])
    return w.shape[1] * receptive, w.shape[0] * receptive


def _fill(w: Tensor, values: Tensor) -> Tensor:
    with torch.no_grad():
        return w.copy_(values)


def zeros(w: Tensor, generator=None) -> Tensor:
    """w = 0."""
    return _fill(w, torch.zeros_like(w))


def ones(w: Tensor, generator=None) -> Tensor:
    """w = 1."""
    return _fill(w, torch.ones_like(w))


def constant(w: Tensor, val: float = 0.0, generator=None) -> Tensor:
    """w = val."""
    return _fill(w, torch.full_like(w, val))


def eye(w: Tensor, generator=None) -> Tensor:
    """w_ij = 1 if i = j else 0 (2-D only; a rectangular w gets ones on its leading diagonal)."""
    if w.ndim != 2:
        raise ValueError(f"eye needs a 2-D tensor; got shape {tuple(w.shape)}")
    rows = torch.arange(w.shape[0], device=w.device)[:, None]  # (out, 1)
    cols = torch.arange(w.shape[1], device=w.device)[None, :]  # (1, in)
    return _fill(w, (rows == cols).to(w.dtype))


def normal(w: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """w = mean + std · z, z ~ N(0, 1)."""
    z = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
    return _fill(w, z * std + mean)


def uniform(w: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """w = a + (b − a) · u, u ~ U(0, 1).

    Rounded as torch's CPU kernel rounds: a, b and b − a in w's dtype, the product and sum in float64.
    """
    u = torch.rand(w.shape, generator=generator, dtype=w.dtype, device=w.device)
    lo, hi = torch.tensor([a, b], dtype=w.dtype, device=w.device)
    return _fill(w, u.double() * (hi - lo).double() + lo.double())


def variance_scaling(w: Tensor, scale: float, mode: str, distribution: str, generator=None) -> Tensor:
    """w with Var(w) = scale / n, n = fan_in, fan_out or fan_avg = (fan_in + fan_out) / 2.

    ``distribution`` normal: N(0, scale / n); uniform: U(−√(3 · scale / n), √(3 · scale / n)), the same variance.
    """
    fan_in, fan_out = fans(w)
    modes = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    if mode not in modes:
        raise ValueError(f"mode must be fan_in, fan_out or fan_avg; got {mode!r}")
    std = math.sqrt(scale / modes[mode])
    if distribution == "normal":
        return normal(w, 0.0, std, generator)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return uniform(w, -bound, bound, generator)
    raise ValueError(f"distribution must be normal or uniform; got {distribution!r}")


def xavier_normal(w: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, gain² · 2 / (fan_in + fan_out)), Glorot & Bengio (2010)."""
    return variance_scaling(w, gain**2, "fan_avg", "normal", generator)


def xavier_uniform(w: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(−a, a), a = gain · √(6 / (fan_in + fan_out)), Glorot & Bengio (2010)."""
    return variance_scaling(w, gain**2, "fan_avg", "uniform", generator)


def kaiming_normal(w: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                   generator=None) -> Tensor:
    """N(0, gain² / fan_mode), He et al. (2015)."""
    return variance_scaling(w, _gain(nonlinearity, a) ** 2, mode, "normal", generator)


def kaiming_uniform(w: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """U(−b, b), b = gain · √(3 / fan_mode), He et al. (2015)."""
    return variance_scaling(w, _gain(nonlinearity, a) ** 2, mode, "uniform", generator)


_gain = gain  # the Xavier presets take a number called gain, as torch's do


INITS = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "eye": eye,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "kaiming_normal": kaiming_normal,
    "kaiming_uniform": kaiming_uniform,
}


def init_tensor(w: Tensor, spec: str, generator: torch.Generator | None = None,
                registry: dict | None = None) -> Tensor:
    """Fill ``w`` in place by ``spec`` with the scratch schemes; bad arguments raise ValueError naming the spec."""
    from mlplab.models.init import init_tensor as torch_init_tensor

    return torch_init_tensor(w, spec, generator, INITS if registry is None else registry)


def init_linear(weight: Tensor, bias: Tensor | None, weight_spec: str, bias_spec: str = "zeros",
                generator: torch.Generator | None = None, registry: dict | None = None, fan_in: int | None = None):
    """Initialise one affine layer (weight in torch's (out, in) layout); ``default`` is nn.Linear's reset:
    U(−1/√fan_in, 1/√fan_in) for weight and bias alike."""
    fan_in = weight.shape[1] if fan_in is None else fan_in
    bound = 1.0 / math.sqrt(fan_in)
    if weight_spec == "default":
        uniform(weight, -bound, bound, generator)
    else:
        init_tensor(weight, weight_spec, generator, registry)
    if bias is not None:
        if weight_spec == "default" or bias_spec == "default":
            uniform(bias, -bound, bound, generator)
        else:
            init_tensor(bias, bias_spec, generator, registry)


def init_model(model: nn.Module, weight_spec: str, bias_spec: str = "zeros", seed: int = 0) -> nn.Module:
    """Re-initialise every affine layer (a module with a weight ``W`` (in, out) and bias ``b``), in order.

    Each W is drawn in torch's (out, in) layout and stored transposed, so the numbers equal ``mlplab.models.init``'s
    for the twin torch model.
    """
    g = torch.Generator().manual_seed(seed)
    for layer in model.modules():
        if isinstance(getattr(layer, "W", None), Tensor):
            w = torch.empty(layer.W.shape[::-1], dtype=layer.W.dtype, device=layer.W.device)  # (out, in)
            init_linear(w, layer.b, weight_spec, bias_spec, generator=g)
            with torch.no_grad():
                layer.W.copy_(w.T)
    return model
