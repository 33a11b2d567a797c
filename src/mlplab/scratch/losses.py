"""Losses from scratch; the same names, signatures, registry and misuse checks as ``mlplab.training.losses``.

Cross entropy goes through log-sum-exp: log softmax(x)_c = x_c − m − log Σ_j exp(x_j − m), m the row
maximum, so no exponential overflows. Class scores sit on dim 1: (N, C) or per pixel (N, C, d1, ...).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlplab.registry import lookup
from mlplab.training.losses import (  # noqa: F401  (shared tables)
    OUTPUT_ACTIVATION,
    REDUCTIONS,
    TASK_LOSSES,
    checked,
    loss_for_task,
)


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """``mean`` over all elements, ``sum``, or ``none`` (the elementwise losses as they are)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be mean, sum or none; got {reduction!r}")
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


def l1(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|x − y|."""
    return reduce((input - target).abs(), reduction)


def smooth_l1(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d² / beta where d = |x − y| < beta, else d − beta / 2; beta = 0 is l1."""
    d = (input - target).abs()
    if beta == 0:
        return reduce(d, reduction)
    return reduce(torch.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta), reduction)


def mse(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(x − y)²."""
    return reduce((input - target) ** 2, reduction)


def bce(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """−[y log p + (1 − y) log(1 − p)], each log clamped at −100 (as torch's, so p = 0 or 1 stays finite)."""
    log_p, log_1mp = torch.log(input).clamp(min=-100), torch.log(1 - input).clamp(min=-100)
    return reduce(-(target * log_p + (1 - target) * log_1mp), reduction)


def bce_with_logits(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """bce(sigmoid(x), y) = max(x, 0) − x·y + log(1 + exp(−|x|)), which never overflows."""
    return reduce(input.clamp(min=0) - input * target + torch.log1p(torch.exp(-input.abs())), reduction)


def log_softmax(x: Tensor, dim: int = 1) -> Tensor:
    """x − logsumexp(x) along ``dim``, with the maximum subtracted first."""
    m = x.amax(dim=dim, keepdim=True)                                     # (N, 1, ...)
    return x - m - torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """−Σ_c t_c log softmax(x)_c; t one-hot (class indices) or given (class probabilities shaped like x).

    With label smoothing ε, t becomes (1 − ε) t + ε / C. ``mean`` divides by N · d1 · ... in both cases.
    """
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    logp = log_softmax(input, dim=1)                                      # (N, C, ...)
    classes = input.shape[1]
    if target.is_floating_point() and target.shape == input.shape:
        t = target * (1 - label_smoothing) + label_smoothing / classes    # (N, C, ...)
        return reduce(-(t * logp).sum(dim=1), reduction)                  # (N, ...)
    picked = -logp.gather(1, target.unsqueeze(1)).squeeze(1)              # (N, ...): −log p of the true class
    uniform = -logp.mean(dim=1)                                           # (N, ...): −Σ_c log p_c / C
    return reduce((1 - label_smoothing) * picked + label_smoothing * uniform, reduction)


def nll(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """−x[n, y_n] for log-probabilities x (N, C, ...) and class indices y (N, ...)."""
    return reduce(-input.gather(1, target.unsqueeze(1)).squeeze(1), reduction)


def l2_penalty(model: nn.Module, weight_decay: float) -> Tensor:
    """weight_decay · Σ ‖W‖² / 2 over the weight matrices (ndim ≥ 2), never the biases.

    Added to the loss, its gradient is weight_decay · W: the same step as the optimizers' ``weight_decay``
    (which mlplab.training.optim applies to weights only), so both routes give the same trajectory.
    """
    return weight_decay / 2 * sum((p**2).sum() for p in model.parameters() if p.ndim >= 2)


LOSSES = {name: checked(name, fn) for name, fn in {
    "l1": l1,
    "smooth_l1": smooth_l1,
    "mse": mse,
    "bce": bce,
    "bce_with_logits": bce_with_logits,
    "cross_entropy": cross_entropy,
    "nll": nll,
}.items()}


def get_loss(name: str, registry: dict | None = None):
    """The scratch loss called ``name``; unknown names list the valid ones."""
    return lookup(LOSSES if registry is None else registry, name, "loss")
