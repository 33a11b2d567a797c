"""Activation functions: torch's built-ins by name (the scratch twins live in ``mlplab.scratch.activations``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import lookup


def identity(x: Tensor) -> Tensor:
    """f(x) = x."""
    return x


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i) / Σ_j exp(x_j) along ``dim``."""
    return torch.softmax(x, dim=dim)


ACTIVATIONS = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": softmax,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
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
