"""Activation functions from elementwise tensor ops only; the same names and signatures as ``mlplab.models.activations``.

Exponentials only ever see non-positive arguments (each branch of a ``where`` gets its own clamped input),
so no value or gradient overflows, even for |x| in the thousands.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mlplab.models import activations as torch_activations
from mlplab.registry import lookup


def relu(x: Tensor) -> Tensor:
    """max(x, 0); the gradient at 0 is 0, as torch's."""
    return torch.where(x > 0, x, 0.0)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(−x)), written as exp(x) / (1 + exp(x)) for x < 0 so exp never overflows."""
    pos, neg = x.clamp(min=0), x.clamp(max=0)
    return torch.where(x >= 0, 1 / (1 + torch.exp(-pos)), torch.exp(neg) / (1 + torch.exp(neg)))


def tanh(x: Tensor) -> Tensor:
    """(eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) = (1 − e⁻²ˣ) / (1 + e⁻²ˣ); expm1 keeps small x accurate."""
    pos, neg = x.clamp(min=0), x.clamp(max=0)
    return torch.where(x >= 0, -torch.expm1(-2 * pos) / (2 + torch.expm1(-2 * pos)),
                       torch.expm1(2 * neg) / (2 + torch.expm1(2 * neg)))


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x_i − m) / Σ_j exp(x_j − m) along ``dim``, m the row maximum (the same value, no overflow)."""
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope · x."""
    return torch.where(x > 0, x, negative_slope * x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha · (eˣ − 1)."""
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))


def gelu(x: Tensor) -> Tensor:
    """x · Φ(x) = x · (1 + erf(x / √2)) / 2."""
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def silu(x: Tensor) -> Tensor:
    """x · sigmoid(x)."""
    return x * sigmoid(x)


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
    """The scratch activation called ``name``; unknown names list the valid ones."""
    return lookup(ACTIVATIONS if registry is None else registry, name, "activation")


class Activation(torch_activations.Activation):
    """A scratch activation as a module (the torch side's wrapper, reading this registry)."""

    def __init__(self, name: str, registry: dict | None = None):
        super().__init__(name, ACTIVATIONS if registry is None else registry)
