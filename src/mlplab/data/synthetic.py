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


# The 2-D classification sets of TensorFlow Playground and scikit-learn: each f(n, noise, seed) -> (x (n, 2)
# float32, y (n,) int64), classes balanced, the noise a standard deviation in the units of x.

def moons(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaved half circles (scikit-learn's make_moons)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * math.pi
    x = torch.stack([torch.cos(t), torch.sin(t)], dim=1)                     # (n, 2) the upper moon
    x = torch.where(y[:, None] == 1, torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1), x)
    return (x + noise * torch.randn(n, 2, generator=g)).float(), y


def circles(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A ring (class 0, radius 1) around a disc's edge (class 1, radius 0.5): scikit-learn's make_circles."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * 2 * math.pi
    r = torch.where(y == 1, 0.5, 1.0)
    x = torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1)
    return (x + noise * torch.randn(n, 2, generator=g)).float(), y


def xor(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Uniform in the quadrants of [-1, 1]²; class 1 where the two coordinates share a sign (labels from the
    noiseless point)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    first = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)          # the first coordinate's sign
    signs = torch.stack([first, torch.where(y == 1, first, -first)], dim=1)   # class 1: the same sign twice
    x = signs * torch.rand(n, 2, generator=g)
    return (x + noise * torch.randn(n, 2, generator=g)).float(), y


def spiral(n: int = 400, noise: float = 0.1, seed: int = 0, classes: int = 2) -> tuple[Tensor, Tensor]:
    """``classes`` interleaved spiral arms, 1.75 turns each (TensorFlow Playground's, CS231n's with 3 arms)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    s = torch.rand(n, generator=g)                                           # position along the arm
    t = 1.75 * 2 * math.pi * s + 2 * math.pi * y / classes
    x = torch.stack([s * torch.sin(t), s * torch.cos(t)], dim=1)             # radius 0..1
    return (x + noise * torch.randn(n, 2, generator=g)).float(), y


def gaussians(n: int = 400, noise: float = 0.5, seed: int = 0, classes: int = 2) -> tuple[Tensor, Tensor]:
    """``classes`` round blobs of standard deviation ``noise``, centred on a circle of radius 1.5."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    angle = 2 * math.pi * y / classes + math.pi / 4
    centres = 1.5 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return (centres + noise * torch.randn(n, 2, generator=g)).float(), y


PLAYGROUND = {"moons": moons, "circles": circles, "xor": xor, "spiral": spiral, "gaussians": gaussians}


def playground(name: str, n: int = 400, noise: float | None = None, seed: int = 0, **options):
    """A 2-D classification Dataset by preset name (``PLAYGROUND``), split 60/20/20 into train/val/test.

    >>> d = playground("spiral", n=200, noise=0.05); d.name, d.input_shape, len(d.x_train)
    ('spiral', (2,), 120)
    """
    from mlplab.data.dataset import Dataset
    from mlplab.registry import lookup

    make = lookup(PLAYGROUND, name, "playground dataset")
    if isinstance(n, bool) or not isinstance(n, int) or not 10 <= n <= 1_000_000:
        raise ValueError(f"n is the number of points, an integer in 10..1,000,000, e.g. 400; got {n!r}")
    if noise is not None and not (isinstance(noise, (int, float)) and 0 <= noise < float("inf")):
        raise ValueError(f"noise is a standard deviation >= 0, e.g. 0.1; got {noise!r}")
    x, y = make(n, seed=seed, **({} if noise is None else {"noise": float(noise)}), **options)
    return Dataset.from_arrays(x.numpy(), y.numpy(), val_fraction=0.2, test_fraction=0.2, seed=seed, name=name)
