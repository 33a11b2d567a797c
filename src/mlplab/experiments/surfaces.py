"""Optimizers on 2-D surfaces: the path each update rule takes from one start, step by step, torch's or scratch.

Three surfaces that each make one lesson visible (d2l.ai ch. 12; Goodfellow et al., *Deep Learning* §8):

- ``quadratic``: f = 0.1 x² + 2 y², condition number 20: plain SGD zig-zags across the narrow valley,
  momentum averages the zig-zag out, adaptive methods rescale each coordinate (d2l §12.6's example).
- ``rosenbrock``: f = (1 − x)² + 100 (y − x²)², a curved flat valley to the minimum at (1, 1) (Rosenbrock
  1960): SGD at a stable lr crawls along the valley floor, momentum and Adam travel along it.
- ``saddle``: f = x² + y⁴/4 − y²/2, a saddle at (0, 0) between minima at (0, ±1), started just off the
  saddle's ridge: a small gradient pushes away from it, which plain SGD follows slowly.

``path(surface, optimizer, lr=..., steps=..., impl=...)`` runs one optimizer (mlplab's registries, so torch's
classes or the scratch twins, with torch's hyperparameter names) in float64 and returns its points and losses.

>>> p = path("quadratic", "sgd", lr=0.4, steps=20)
>>> p.points.shape, round(float(p.losses[-1]), 4) < round(float(p.losses[0]), 4)
(torch.Size([21, 2]), True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from mlplab.registry import impl_module, lookup


@dataclass(frozen=True)
class Surface:
    f: Callable[[Tensor], Tensor]          # (..., 2) -> (...)
    start: tuple[float, float]
    minimum: tuple[float, float]           # a global minimum (the saddle surface has two; this is one)
    lowest: float                          # f at the minimum: losses are drawn as f − lowest
    bounds: tuple[float, float, float, float]   # x0, x1, y0, y1 of the contour plot


def _quadratic(p: Tensor) -> Tensor:
    return 0.1 * p[..., 0] ** 2 + 2 * p[..., 1] ** 2


def _rosenbrock(p: Tensor) -> Tensor:
    return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2


def _saddle(p: Tensor) -> Tensor:
    return p[..., 0] ** 2 + p[..., 1] ** 4 / 4 - p[..., 1] ** 2 / 2


SURFACES = {
    "quadratic": Surface(_quadratic, (-5.0, -2.0), (0.0, 0.0), 0.0, (-5.5, 1.5, -2.5, 2.5)),
    "rosenbrock": Surface(_rosenbrock, (-1.5, 2.0), (1.0, 1.0), 0.0, (-2.0, 2.0, -1.0, 3.0)),
    "saddle": Surface(_saddle, (-1.5, 1e-3), (0.0, 1.0), -0.25, (-2.0, 2.0, -1.6, 1.6)),
}

# name -> (registry name, hyperparameters): the six of the tutorials, plain SGD beside them for reference
OPTIMIZERS = {
    "SGD": ("sgd", {}),
    "SGD+momentum": ("sgd", {"momentum": 0.9}),
    "RMSprop": ("rmsprop", {}),
    "Adagrad": ("adagrad", {}),
    "Adadelta": ("adadelta", {}),
    "Adam": ("adam", {}),
    "Adamax": ("adamax", {}),
}

# per surface, the lr each optimizer runs at by default: plain SGD and momentum at the same lr (the lesson),
# the adaptive methods at a step size in the surface's units (they move about lr per step)
LRS = {
    "quadratic": {"SGD": 0.1, "SGD+momentum": 0.1, "RMSprop": 0.1, "Adagrad": 1.0, "Adadelta": 10.0,
                  "Adam": 0.3, "Adamax": 0.3},
    "rosenbrock": {"SGD": 1e-3, "SGD+momentum": 1e-3, "RMSprop": 5e-3, "Adagrad": 0.2, "Adadelta": 0.5,
                   "Adam": 0.05, "Adamax": 0.1},
    "saddle": {"SGD": 0.05, "SGD+momentum": 0.05, "RMSprop": 0.05, "Adagrad": 0.5, "Adadelta": 10.0,
               "Adam": 0.05, "Adamax": 0.05},
}
STEPS = {"quadratic": 100, "rosenbrock": 1000, "saddle": 100}
MAX_STEPS = 100_000  # about a minute per optimizer and impl on a CPU


@dataclass
class Path:
    name: str
    points: Tensor          # (steps + 1, 2), float64, the start first
    losses: Tensor          # (steps + 1,)

    def distance_to(self, point: tuple[float, float]) -> float:
        """How far the last point lies from ``point``."""
        return float(torch.linalg.vector_norm(self.points[-1] - torch.tensor(point, dtype=torch.float64)))


def surface(name: str) -> Surface:
    return SURFACES[lookup({k: k for k in SURFACES}, name, "surface")]


def path(surface_name: str, optimizer: str, *, lr: float, steps: int, impl: str = "torch",
         start: tuple[float, float] | None = None, name: str | None = None, **hyper) -> Path:
    """``steps`` updates of ``optimizer`` (a registry name: sgd, rmsprop, ...) on the surface from its start."""
    s = surface(surface_name)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer in 1..{MAX_STEPS:,}, e.g. 200; got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise ValueError(f"the lr of {name or optimizer} must be a positive number, e.g. 0.01; got {lr!r}")
    optim = impl_module(impl, "optim")
    p = torch.nn.Parameter(torch.tensor(start or s.start, dtype=torch.float64))
    opt = lookup(optim.OPTIMIZERS, optimizer, "optimizer")([p], lr=lr, **hyper)
    points, losses = [p.detach().clone()], []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = s.f(p)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        points.append(p.detach().clone())
        if not torch.isfinite(points[-1]).all():  # diverged: the path ends where it left the plane
            break
    losses.append(s.f(points[-1]))
    return Path(name or optimizer, torch.stack(points), torch.stack(losses))


def paths(surface_name: str, *, impl: str = "torch", lrs: dict[str, float] | None = None,
          steps: int | None = None, betas: tuple[float, float] | None = None,
          momentum: float | None = None) -> dict[str, Path]:
    """Every optimizer of ``OPTIMIZERS`` on one surface, each at ``LRS``' lr unless ``lrs`` names it;
    ``betas`` for Adam and Adamax, ``momentum`` for SGD+momentum, where given."""
    surface(surface_name)  # an unknown surface names the three
    unknown = sorted(set(lrs or {}) - set(OPTIMIZERS))
    if unknown:
        raise ValueError(f"lr given for unknown optimizer(s) {', '.join(map(repr, unknown))}; the names are "
                         f"{', '.join(OPTIMIZERS)}")
    lrs = {**LRS[surface_name], **(lrs or {})}
    found = {}
    for name, (registry, hyper) in OPTIMIZERS.items():
        hyper = dict(hyper)
        if betas is not None and registry in ("adam", "adamax"):
            hyper["betas"] = tuple(betas)
        if momentum is not None and name == "SGD+momentum":
            hyper["momentum"] = momentum
        found[name] = path(surface_name, registry, lr=lrs[name], impl=impl, name=name, **hyper,
                           steps=STEPS[surface_name] if steps is None else steps)
    return found


def both_impls(surface_names, **keys) -> dict[str, tuple[dict[str, Path], dict[str, Path]]]:
    """surface name -> (torch's paths, the scratch twins' paths), every optimizer on each (``paths``' keys)."""
    return {name: (paths(name, impl="torch", **keys), paths(name, impl="scratch", **keys)) for name in surface_names}
