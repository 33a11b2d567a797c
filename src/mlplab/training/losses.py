"""Losses by name: torch's functional losses behind one input check, which tasks each fits, and the output each
expects.

Every loss takes ``(input, target, reduction="mean")`` plus its own options (smooth_l1's ``beta``,
cross_entropy's ``label_smoothing``); ``reduction`` is ``mean``, ``sum`` or ``none``. cross_entropy and nll
take (N, C) or per-pixel (N, C, d1, ...) inputs with (N,) or (N, d1, ...) class indices; cross_entropy also
takes class probabilities shaped like its input. The scratch twins live in ``mlplab.scratch.losses`` under the
same names and signatures, and both registries hold the losses wrapped by ``checked``: a misuse (BCE on raw
logits, NLL on probabilities, a class index out of range, ...) is one line saying what the loss expects and
what to use instead, raised before torch's own, opaque, error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mlplab.registry import lookup

REDUCTIONS = ("mean", "sum", "none")


def l1(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|x − y|."""
    return F.l1_loss(input, target, reduction=reduction)


def smooth_l1(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 (x − y)² / beta where |x − y| < beta, else |x − y| − beta / 2 (Huber's loss divided by beta)."""
    return F.smooth_l1_loss(input, target, reduction=reduction, beta=beta)


def mse(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(x − y)²; ``mean`` averages over every element."""
    return F.mse_loss(input, target, reduction=reduction)


def bce(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """−[y log p + (1 − y) log(1 − p)] for probabilities p (a sigmoid output); logs clamped at −100."""
    return F.binary_cross_entropy(input, target, reduction=reduction)


def bce_with_logits(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """bce(sigmoid(x), y), computed stably from the logits x."""
    return F.binary_cross_entropy_with_logits(input, target, reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """−Σ_c t_c log softmax(x)_c over classes (dim 1); t one-hot from class indices, or class probabilities.

    ``label_smoothing`` ε mixes t with the uniform distribution: (1 − ε) t + ε / C. ``mean`` divides by the
    number of samples (times d1 · ... for per-pixel inputs).
    """
    return F.cross_entropy(input, target, reduction=reduction, label_smoothing=label_smoothing)


def nll(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """−x[n, y_n] for log-probabilities x (a log_softmax output) and class indices y."""
    return F.nll_loss(input, target, reduction=reduction)


# --- misuse checks ------------------------------------------------------------------------------------------

def _range(t: Tensor) -> tuple[float, float]:
    lo, hi = t.detach().aminmax()
    return lo.item(), hi.item()


def _check_class_indices(name: str, input: Tensor, target: Tensor) -> None:
    classes = input.shape[1] if input.ndim >= 2 else None
    expected = (input.shape[0], *input.shape[2:]) if input.ndim >= 2 else None
    if classes is None:
        raise ValueError(f"{name} expects scores of shape (N, C) or (N, C, d1, ...); got shape {tuple(input.shape)}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{name} expects class indices as an integer tensor of shape {expected}"
                        f"{' or class probabilities shaped like the input' if name == 'cross_entropy' else ''}; "
                        f"got {target.dtype} of shape {tuple(target.shape)}: convert the labels with .long()")
    if tuple(target.shape) != expected:
        raise ValueError(f"{name} expects class indices of shape {expected} for an input of shape "
                         f"{tuple(input.shape)}; got shape {tuple(target.shape)}")
    if target.numel():
        lo, hi = _range(target)
        if lo < 0 or hi >= classes:
            bad = hi if hi >= classes else lo
            raise ValueError(f"{name} got class index {int(bad)} but the output has {classes} classes (valid: 0 to "
                             f"{classes - 1}): give the last layer one unit per class, or relabel the targets")


def check_inputs(name: str, input: Tensor, target: Tensor) -> None:
    """Raise ValueError/TypeError, in one line, where ``input``/``target`` cannot be what loss ``name`` expects."""
    if name in ("cross_entropy", "nll"):
        probabilities = name == "cross_entropy" and target.is_floating_point() and target.shape == input.shape
        if not probabilities:
            _check_class_indices(name, input, target)
        if name == "nll" and input.numel() and (hi := _range(input)[1]) > 0:
            hint = ("which look like probabilities (rows summing to 1): pass their log, or "
                    if input.ndim >= 2 and (input.detach().sum(1) - 1).abs().max().item() < 1e-3 else "")
            raise ValueError(f"nll expects log-probabilities (a log_softmax output, all <= 0); got values up to "
                             f"{hi:.4g}, {hint}use cross_entropy on the raw logits instead")
        if name == "cross_entropy" and input.ndim >= 2 and input.shape[1] > 1 and input.numel():
            lo, hi = _range(input)
            if lo >= 0 and hi <= 1 and (input.detach().sum(1) - 1).abs().max().item() < 1e-3:
                raise ValueError("cross_entropy expects raw logits (it applies log_softmax itself); got rows of "
                                 "values in [0, 1] summing to 1, which look like a softmax output: drop the "
                                 "softmax, or use nll on their log")
        return
    if input.shape != target.shape:
        raise ValueError(f"{name} expects input and target of the same shape (it would broadcast them silently); "
                         f"got {tuple(input.shape)} and {tuple(target.shape)}: reshape the target to "
                         f"{tuple(input.shape)}")
    if name in ("bce", "bce_with_logits") and target.numel():
        lo, hi = _range(target)
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} expects targets in [0, 1] (0/1 labels or probabilities); got values from "
                             f"{lo:.4g} to {hi:.4g}: for class indices use cross_entropy, for real values mse")
    if name == "bce" and input.numel():
        lo, hi = _range(input)
        if lo < 0 or hi > 1:
            raise ValueError(f"bce expects probabilities in [0, 1] (a sigmoid output); got values from {lo:.4g} "
                             f"to {hi:.4g}, which look like raw logits: use bce_with_logits on them instead")


def checked(name: str, fn: Callable) -> Callable:
    """``fn`` with ``check_inputs(name, ...)`` first, for torch's losses and the scratch ones alike.

    The checks read a few reductions back to the host: free on the CPU, a synchronisation on an accelerator,
    so there they run on each device's first call only (a training run's first batch, whose labels and
    output layer are those of every later batch).
    """
    seen = set()

    @functools.wraps(fn)
    def loss(input: Tensor, target: Tensor, reduction: str = "mean", **options) -> Tensor:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be mean, sum or none; got {reduction!r}")
        if input.device.type == "cpu" or input.device not in seen:
            check_inputs(name, input, target)
            seen.add(input.device)
        return fn(input, target, reduction=reduction, **options)

    return loss


LOSSES = {name: checked(name, fn) for name, fn in {
    "l1": l1,
    "smooth_l1": smooth_l1,
    "mse": mse,
    "bce": bce,
    "bce_with_logits": bce_with_logits,
    "cross_entropy": cross_entropy,
    "nll": nll,
}.items()}

# Which losses make sense for which task, and the default (first) of each.
TASK_LOSSES = {
    "multiclass": ("cross_entropy", "nll"),
    "binary": ("bce_with_logits", "bce"),
    "regression": ("mse", "l1", "smooth_l1"),
}

# What the model's last layer must apply for the loss to get what it expects: raw logits unless named here.
OUTPUT_ACTIVATION = {"nll": "log_softmax", "bce": "sigmoid"}


WEIGHTABLE = ("cross_entropy", "bce_with_logits")


def with_options(name: str, class_weight: Tensor | None = None, label_smoothing: float = 0.0) -> Callable:
    """Loss ``name`` (cross_entropy or bce_with_logits) with per-class weights and label smoothing, for training.

    ``class_weight`` (C,): a sample of class c counts w_c times; the ``mean`` divides by Σ w (torch's
    cross_entropy) or by N (BCE, whose weight is w[y] per sample). ``label_smoothing`` ε: cross entropy's own
    (1 − ε)·onehot + ε/C; for BCE the target becomes (1 − ε)·y + ε/2. Evaluation keeps the plain loss.

    >>> f = with_options("bce_with_logits", torch.tensor([1.0, 3.0])); f(torch.zeros(2, 1), torch.tensor([[0.], [1.]])).item()
    1.3862943649291992
    """
    if name not in WEIGHTABLE:
        raise ValueError(f"class weights and label smoothing apply to {' and '.join(WEIGHTABLE)}; the loss is {name!r}")

    def loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
        check_inputs(name, input, target)
        w = None if class_weight is None else class_weight.to(input.device, input.dtype)
        if name == "cross_entropy":
            return F.cross_entropy(input, target, weight=w, reduction=reduction, label_smoothing=label_smoothing)
        smoothed = target * (1 - label_smoothing) + 0.5 * label_smoothing
        return F.binary_cross_entropy_with_logits(input, smoothed, weight=None if w is None else w[target.long()],
                                                  reduction=reduction)

    return loss


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
