"""The loss heads backpropagation by hand starts from: for logits O and targets, (mean loss, δ_o = ∂ℓ/∂O).

Each head (``HEADS``) is the loss mlplab.training.losses computes (``with_options`` for the weighted
and smoothed ones), with p = softmax(O), σ the sigmoid, N the number of elements of O:

- cross_entropy, class indices y, class weights w (C,) (all 1 without), label smoothing ε: each sample's
  target distribution q_ic = (1 − ε) w_{y_i} 1[c = y_i] + (ε/C) w_c, so ℓ = −Σ_ic q_ic log p_ic / Σ_i w_{y_i}
  (torch's F.cross_entropy with weight= and label_smoothing=) and, as ∂(−log p_ic')/∂O_ic = p_ic − 1[c = c'],
      δ_o,ic = (p_ic Σ_c' q_ic' − q_ic) / Σ_i w_{y_i};   plain (w = 1, ε = 0): δ_o = (p − onehot(y)) / B
- bce_with_logits, targets y (B, 1) in [0, 1]: target t = (1 − ε) y + ε/2, sample weight w_{y_i},
  ℓ = Σ_i w_{y_i} [softplus(O_i) − t_i O_i] / N:   δ_o = w_{y_i} (σ(O) − t) / N
- mse: ℓ = Σ (O − y)² / N:   δ_o = 2 (O − y) / N

mlplab.training.backprop carries δ_o down through the layers; tests/test_backprop.py checks each head against
torch's loss and autograd's gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cross_entropy(out: Tensor, y: Tensor, weight: Tensor | None = None,
                  label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """(mean cross entropy, δ_o) of logits ``out`` (B, C) and class indices ``y`` (B,), with optional class
    ``weight`` (C,) and ``label_smoothing``: torch's ``F.cross_entropy(out, y, weight, label_smoothing=)``."""
    n, c = out.shape
    log_p = torch.log_softmax(out, dim=1)                    # (B, C)
    if weight is None and not label_smoothing:
        loss = F.nll_loss(log_p, y)                          # mean of −log p[y]
        delta = log_p.exp_()                                 # softmax(O)
        delta.scatter_add_(1, y.view(n, 1), delta.new_full((n, 1), -1.0))
        return loss, delta.mul_(1.0 / n)                     # (softmax − onehot) / B
    w = out.new_ones(c) if weight is None else weight.to(out)                # (C,)
    w_y = w[y]                                                                # (B,)
    q = w.mul(label_smoothing / c).repeat(n, 1)                              # (B, C): (ε/C) w_c
    q.scatter_add_(1, y.view(n, 1), w_y.mul(1 - label_smoothing).view(n, 1))  # + (1 − ε) w_{y_i} at y_i
    total = w_y.sum()                                                         # Σ_i w_{y_i}
    loss = -(q * log_p).sum() / total
    delta = log_p.exp_().mul_(q.sum(1, keepdim=True)).sub_(q).div_(total)     # (p Σ_c q − q) / Σ w_y
    return loss, delta


def bce_with_logits(out: Tensor, y: Tensor, weight: Tensor | None = None,
                    label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """(mean binary cross entropy, δ_o) of logits ``out`` and targets ``y`` in [0, 1], both (B, 1), with optional
    class ``weight`` (2,) (0/1 targets; sample i weighs w[y_i]) and ``label_smoothing`` ε (target (1 − ε) y + ε/2)."""
    t = y * (1 - label_smoothing) + 0.5 * label_smoothing if label_smoothing else y
    w = None if weight is None else weight.to(out)[y.long()]                 # (B, 1): w[y_i]
    loss = F.binary_cross_entropy_with_logits(out, t, weight=w)
    delta = torch.sigmoid(out).sub_(t)                                        # σ(O) − t
    if w is not None:
        delta.mul_(w)
    return loss, delta.div_(out.numel())


def mse(out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(mean squared error, δ_o) of outputs ``out`` and targets ``y`` of the same shape."""
    return F.mse_loss(out, y), (out - y).mul_(2.0 / out.numel())


# The losses backprop by hand covers: name -> head(out, y[, weight, label_smoothing]) -> (mean loss, ∂ℓ/∂O).
HEADS = {"cross_entropy": cross_entropy, "bce_with_logits": bce_with_logits, "mse": mse}
LOSSES = tuple(HEADS)
