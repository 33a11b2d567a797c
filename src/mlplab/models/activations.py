"""Activation functions: torch's built-ins by name (the scratch twins live in ``mlplab.scratch.activations``).

Each is a plain function of a tensor with torch's own hyperparameter names; ``ACTIVATIONS`` maps the names
the CLI takes to them, and ``mlplab.scratch.activations`` has the same names with the same signatures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlplab.registry import lookup


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return F.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(−x))."""
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """(eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)."""
    return torch.tanh(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i) / Σ_j exp(x_j) along ``dim``."""
    return torch.softmax(x, dim=dim)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope · x (Maas et al., 2013)."""
    return F.leaky_relu(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha · (eˣ − 1) (Clevert et al., 2015)."""
    return F.elu(x, alpha)


def gelu(x: Tensor) -> Tensor:
    """x · Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel, 2016), exact (erf) form."""
    return F.gelu(x)


def silu(x: Tensor) -> Tensor:
    """x · sigmoid(x), also called swish (Ramachandran et al., 2017)."""
    return F.silu(x)


def identity(x: Tensor) -> Tensor:
    """f(x) = x."""
    return x


ACTIVATIONS = {
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "silu": silu,
    "identity": identity,
}


def get_activation(name: str, registry: dict | None = None):
    """The activation function called ``name``; unknown names list the valid ones."""
    return lookup(ACTIVATIONS if registry is None else registry, name, "activation")


class Activation(nn.Module):
    """An activation from a registry as a module, so it shows by name in ``print(model)``."""

    def __init__(self, name: str, registry: dict | None = None):
        super().__init__()
        self.name = name
        self.fn = get_activation(name, registry)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name
