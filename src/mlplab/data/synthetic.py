"""Synthetic regression data with known answers: a linear model and d2l's polynomial features."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def linear(n: int, w: Tensor, b: float, noise: float = 0.01, seed: int = 0) -> tuple[Tensor, Tensor]:
    """X ~ N(0, 1) of shape (n, len(w)); y = X w + b + N(0, noise²), shape (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, len(w), generator=g)                                   # (n, d)
    y = x @ w.reshape(-1, 1).to(x.dtype) + b + noise * torch.randn(n, 1, generator=g)  # (n, 1)
    return x, y


def polynomial_features(x: Tensor, degree: int = 20) -> Tensor:
    """Columns x^i / i! for i = 0 … degree-1 (the 1/i! keeps high powers from exploding)."""
    powers = torch.arange(degree, dtype=x.dtype)
    factorials = torch.tensor([math.factorial(i) for i in range(degree)], dtype=x.dtype)
    return x.reshape(-1, 1) ** powers / factorials                            # (n, degree)


def polynomial(n: int, weights: Tensor, degree: int = 20, noise: float = 0.1, seed: int = 0
               ) -> tuple[Tensor, Tensor]:
    """x ~ N(0, 1); features x^i / i! (i < degree); y = features[:, :len(weights)] · weights + N(0, noise²)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g)
    feats = polynomial_features(x, degree)                                    # (n, degree)
    y = feats[:, : len(weights)] @ weights.to(feats.dtype).reshape(-1, 1)     # (n, 1)
    return feats, y + noise * torch.randn(n, 1, generator=g)
