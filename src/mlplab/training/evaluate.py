"""Evaluation of a split, as the training loop records it each epoch: mean loss, accuracy, ROC-AUC.

``evaluate`` runs the model in eval mode without gradients over ``(x, y)`` in large batches and returns
``split_metrics(task)``; ``predictions_correct`` is the accuracy count the loop also keeps for training
batches, without a host sync; ROC-AUC (mlplab.training.roc_auc) is cheap enough to compute every epoch. The final report's metrics
(per-class, confusion matrix, PR-AUC, regression in the target's units) are mlplab.runs.metrics'.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlplab.training.roc_auc import roc_auc


def predictions_correct(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """How many predictions in ``out`` (B, C) or (B, 1) match ``y``, as a 0-dim tensor (no host sync)."""
    if out.shape[1] > 1:
        return (out.argmax(dim=1) == y).sum()
    threshold = 0.5 if loss == "bce" else 0.0  # bce sees probabilities, bce_with_logits sees logits
    return ((out > threshold).to(y.dtype) == y).sum()


def split_metrics(task: str) -> tuple[str, ...]:
    """The history columns ``evaluate`` gives each split (``val_`` + name, ``test_`` + name)."""
    return {"regression": ("loss",), "binary": ("loss", "accuracy", "roc_auc")}.get(task, ("loss", "accuracy"))


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, loss_fn, loss: str, task: str,
             batch_size: int = 8192) -> dict[str, float]:
    """``split_metrics(task)`` over ``(x, y)``: mean loss, accuracy (classification), ROC-AUC (binary); always
    in eval mode without gradients."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    scores = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        out = model(xb)
        loss_sum += loss_fn(out, yb, reduction="sum")
        if task != "regression":
            correct += predictions_correct(out, yb, loss)
        if task == "binary":
            scores.append(out.reshape(-1).float())  # logits or probabilities: the same order
    model.train(was_training)
    result = {"loss": loss_sum.item() / len(x)}
    if task != "regression":
        result["accuracy"] = correct.item() / len(x)
    if task == "binary":
        result["roc_auc"] = roc_auc(torch.cat(scores).double().cpu().numpy(), y.reshape(-1).cpu().numpy())
    return result
