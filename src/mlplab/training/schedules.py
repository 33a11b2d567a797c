"""Learning-rate schedules by name: a factor of the base lr as a function of training progress.

Each schedule is a pure function of ``progress`` = steps done / total steps, in [0, 1), so the lr of any
batch follows from ``(epoch, batch)`` alone and a run restarted at an epoch boundary continues exactly.
"""

from __future__ import annotations

import math

import torch

from mlplab.registry import lookup


def constant(progress: float) -> float:
    """factor = 1."""
    return 1.0


def cosine(progress: float) -> float:
    """Cosine annealing to zero (Loshchilov & Hutter, SGDR, 2017): factor = ½ (1 + cos π p)."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def onecycle(progress: float, warmup: float = 0.3, start: float = 0.04) -> float:
    """One cycle (Smith & Topin, 2017): linear from ``start`` to 1 over the first ``warmup``, then cosine to 0."""
    if progress < warmup:
        return start + (1.0 - start) * progress / warmup
    return cosine((progress - warmup) / (1.0 - warmup))


SCHEDULES = {"none": constant, "cosine": cosine, "onecycle": onecycle}


def get_schedule(name: str):
    """The factor function called ``name``; unknown names list the valid ones."""
    return lookup(SCHEDULES, name, "schedule")


def set_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    """lr of every group = its initial lr × ``factor`` (the initial lr is kept in the group, as torch does).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1); set_lr(opt, 0.5)
    >>> opt.param_groups[0]["lr"], opt.param_groups[0]["initial_lr"]
    (0.05, 0.1)
    """
    for group in opt.param_groups:
        group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
