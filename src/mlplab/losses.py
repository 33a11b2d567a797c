"""Losses by name: torch's functional losses, which tasks each fits, and the output each expects.

The scratch twins live in ``mlplab.scratch.losses`` under the same names and signatures.
"""

from __future__ import annotations

import torch.nn.functional as F

from .registry import lookup

LOSSES = {
    "l1": F.l1_loss,
    "smooth_l1": F.smooth_l1_loss,
    "mse": F.mse_loss,
    "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
}

# Which losses make sense for which task, and the default (first) of each.
TASK_LOSSES = {
    "multiclass": ("cross_entropy", "nll"),
    "binary": ("bce_with_logits", "bce"),
    "regression": ("mse", "l1", "smooth_l1"),
}

# What the model's last layer must apply for the loss to get what it expects: raw logits unless named here.
OUTPUT_ACTIVATION = {"nll": "log_softmax", "bce": "sigmoid"}


def get_loss(name: str, registry: dict | None = None):
    """The loss function called ``name``; unknown names list the valid ones."""
    return lookup(LOSSES if registry is None else registry, name, "loss")


def loss_for_task(name: str | None, task: str) -> str:
    """The loss to use: ``name`` when it fits ``task``, the task's default when ``name`` is None."""
    if name is None:
        return TASK_LOSSES[task][0]
    get_loss(name)
    if name not in TASK_LOSSES[task]:
        fits = ", ".join(TASK_LOSSES[task])
        raise ValueError(f"loss {name!r} does not fit a {task} task; use one of: {fits}")
    return name
