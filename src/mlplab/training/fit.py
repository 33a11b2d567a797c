"""The training loop: data resident on the device, a seeded permutation per epoch, batches by slicing.

Read it top to bottom: train mode, zero_grad, forward, loss, backward, step; then evaluate every split in
eval mode without gradients. Each epoch's shuffling and dropout masks come from ``(seed, epoch)`` alone, so
a run restarted at any epoch boundary continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import csv
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from mlplab.training import backprop as hand_backprop
from mlplab.training import distributed
from mlplab.training import losses as torch_losses
from mlplab.training import optim as torch_optim
from mlplab.data.augment import get_augment
from mlplab.data.load import Dataset
from mlplab.training.schedules import get_schedule, set_lr

AMP = {"bf16": torch.bfloat16}  # autocast dtypes by name; bf16 needs no loss scaling
BACKPROPS = ("auto", "hand", "autograd")  # auto: by hand where it applies (mlplab.training.backprop), else autograd


@dataclass
class History:
    """One row per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_*``/``test_*``, ``seconds``."""

    rows: list[dict] = field(default_factory=list)

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]

    @property
    def final(self) -> dict:
        return dict(self.rows[-1]) if self.rows else {}

    def to_csv(self, path: str | Path) -> None:
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, keys)
            writer.writeheader()
            writer.writerows(self.rows)

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        with open(path, newline="") as f:
            rows = [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(f)]
        return cls(rows)


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; anything else must be a device torch knows."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    return dev


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffling and dropout masks, derived from the run seed alone."""
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def predictions_correct(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """How many predictions in ``out`` (B, C) or (B, 1) match ``y``, as a 0-dim tensor (no host sync)."""
    if out.shape[1] > 1:
        return (out.argmax(dim=1) == y).sum()
    threshold = 0.5 if loss == "bce" else 0.0  # bce sees probabilities, bce_with_logits sees logits
    return ((out > threshold).to(y.dtype) == y).sum()


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable, loss: str, classify: bool,
             batch_size: int = 8192) -> dict[str, float]:
    """Mean loss (and accuracy when ``classify``) over ``(x, y)``, always in eval mode without gradients."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        out = model(xb)
        loss_sum += loss_fn(out, yb, reduction="sum")
        if classify:
            correct += predictions_correct(out, yb, loss)
    model.train(was_training)
    result = {"loss": loss_sum.item() / len(x)}
    if classify:
        result["accuracy"] = correct.item() / len(x)
    return result


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite."""


def non_finite(value: float, epoch: int, batch: int, n_batches: int, opt) -> NonFiniteLoss:
    return NonFiniteLoss(f"the training loss became {value} in epoch {epoch}, batch {batch} of {n_batches}; "
                         f"likely causes: a learning rate too high (lr={opt.param_groups[0]['lr']}, try 10x "
                         "smaller), unscaled inputs (standardise them), or a loss that does not fit the "
                         "model's output")


def check_labels(data: Dataset, y: Tensor, loss: str) -> None:
    """Class indices in [0, num_classes), binary targets in [0, 1]: else the loss fails or lies."""
    if data.task == "multiclass" and len(y) and (int(y.min()) < 0 or int(y.max()) >= data.num_classes):
        raise ValueError(f"labels of {data.name} must be class indices in [0, {data.num_classes}) for {loss}; "
                         f"found {int(y.min())}..{int(y.max())}; the label file is corrupt or of another dataset")
    if data.task == "binary" and len(y) and (float(y.min()) < 0 or float(y.max()) > 1):
        raise ValueError(f"targets of {data.name} must be in [0, 1] for {loss}; found "
                         f"{float(y.min())}..{float(y.max())}")


def choose_backprop(backprop: str, model: nn.Module, loss: str, opt, *, impl: str, device: torch.device,
                    world: int, compile: bool, amp: str | None) -> hand_backprop.HandStep | None:
    """The HandStep to train with, or None for autograd; ``backprop="hand"`` where it cannot apply says why."""
    if backprop not in BACKPROPS:
        raise ValueError(f"backprop must be one of {', '.join(BACKPROPS)}; got {backprop!r}")
    if backprop == "autograd":
        return None
    reasons = [why for why, applies in (
        ("impl is scratch (its point is its own modules under autograd)", impl != "torch"),
        ("the device is not the CPU (on a GPU, compile and CUDA graphs are the fast path)", device.type != "cpu"),
        ("it runs under torch.distributed (DDP)", world > 1), ("compile is on", compile)) if applies]
    hand = reasons[0] if reasons else hand_backprop.HandStep.build(model, loss, opt, amp=AMP.get(amp))
    if isinstance(hand, str):
        if backprop == "hand":
            raise ValueError(f"backprop 'hand' does not apply here: {hand}; use backprop 'auto' or 'autograd'")
        return None
    return hand


def fit(model: nn.Module, data: Dataset, *, optimizer: str = "sgd", lr: float = 0.1, loss: str | None = None,
        epochs: int = 10, batch_size: int = 256, seed: int = 0, device: str = "auto", weight_decay: float = 0.0,
        optimizer_args: dict | None = None, impl: str = "torch", history: History | None = None,
        opt: torch.optim.Optimizer | None = None, callbacks: list[Callable] = (), schedule: str = "none",
        augment: str = "none", compile: bool = False, amp: str | None = None, backprop: str = "auto") -> History:
    """Train ``model`` on ``data`` and return its History.

    ``optimizer`` and ``loss`` are names (torch's hyperparameter names in ``optimizer_args``); ``loss`` None
    picks the task's default. ``weight_decay`` reaches weights only. ``impl="scratch"`` uses the
    from-scratch optimizer and loss. To continue a run, pass its ``history`` (training starts after its last
    epoch) and its optimizer ``opt``. After each epoch every ``callbacks`` entry is called with
    ``(epoch, history, model, opt)``. ``schedule`` scales the lr per batch (mlplab.training.schedules), ``augment``
    transforms image batches (mlplab.data.augment). ``compile`` trains through ``torch.compile`` (CUDA graphs on a
    GPU: mode "reduce-overhead"); ``amp="bf16"`` runs forward and loss under bf16 autocast. In a torch.distributed
    process group (torchrun) each rank trains on its share of every global batch (mlplab.training.distributed).
    ``backprop``: ``auto`` computes each step by hand (mlplab.training.backprop: same gradients, fewer ops) where it
    applies, else with autograd; ``hand`` insists (ValueError naming why not); ``autograd`` never hands.

    >>> from mlplab.data.load import load_dataset; from mlplab.models.mlp import MLP
    >>> d = load_dataset("iris"); h = fit(MLP(4, [16], 3), d, epochs=2, device="cpu")
    >>> len(h.rows)
    2
    """
    for key, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{key} must be a positive integer; got {value!r}")
    if impl == "scratch":
        from mlplab.scratch import losses as loss_mod
        from mlplab.scratch import optim as optim_mod
    elif impl == "torch":
        loss_mod, optim_mod = torch_losses, torch_optim
    else:
        raise ValueError(f"impl must be 'torch' or 'scratch'; got {impl!r}")
    loss = torch_losses.loss_for_task(loss, data.task)
    loss_fn = loss_mod.get_loss(loss, loss_mod.LOSSES)
    classify = data.task != "regression"
    dev = resolve_device(device)
    model.to(dev)
    factor, augment_fn = get_schedule(schedule), get_augment(augment, data.input_shape)
    if amp is not None and amp not in AMP:
        raise ValueError(f"amp must be one of {', '.join(AMP)} or None; got {amp!r}")
    rank, world = distributed.rank_and_world()
    if batch_size < world:
        raise ValueError(f"batch_size ({batch_size}) is the global batch and must be >= the {world} processes")
    forward = distributed.data_parallel(model, dev) if world > 1 else model
    if compile and dev.type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        raise ValueError("compile on CPU needs a C++ compiler (g++ or clang++) on PATH; install one or drop --compile")
    if compile:  # CUDA graphs on a GPU; two static shapes (full and last batch); eval uses the plain model
        forward = torch.compile(forward, mode="reduce-overhead" if dev.type == "cuda" else None, dynamic=False)
    # a disabled torch.autocast still costs ~10 µs per batch on CPU: no context at all unless asked for
    autocast = torch.autocast(dev.type, dtype=AMP[amp]) if amp is not None else contextlib.nullcontext()
    if opt is None:
        opt = optim_mod.make_optimizer(optimizer, model, lr=lr, weight_decay=weight_decay,
                                       registry=optim_mod.OPTIMIZERS, **(optimizer_args or {}))
    hand = choose_backprop(backprop, model, loss, opt, impl=impl, device=dev, world=world, compile=compile, amp=amp)
    splits = {name: (x.to(dev), y.to(dev)) for name, (x, y) in data.splits().items()}
    x_train, y_train = splits["train"]
    if hand is not None and hand.amp is not None:  # by hand in bf16 every batch is cast anyway: cast once
        x_train = x_train.to(hand.amp)
    n = len(x_train)
    check_labels(data, y_train, loss)
    on_cpu = dev.type == "cpu"  # CPU: check each batch's loss at once; elsewhere record it, check per epoch
    n_batches = -(-n // batch_size)
    batch_losses = None if on_cpu else torch.zeros(n_batches, device=dev)
    history = history if history is not None else History()
    start = history.rows[-1]["epoch"] if history.rows else 0

    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        g = torch.Generator(device=dev).manual_seed(epoch_seed(seed, epoch))
        torch.manual_seed(epoch_seed(seed, epoch))  # dropout masks
        perm = torch.randperm(n, generator=g, device=dev)
        loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
        loss_total = 0.0                                 # on the CPU, summed on the host (no extra op)
        correct = torch.zeros((), device=dev, dtype=torch.int64)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]                 # the global batch
            share = len(idx) / world                     # this rank's weight in the global mean
            idx = distributed.shard(idx, rank, world) if world > 1 else idx
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)  # (B, ...), (B,) or (B, 1)
            xb = augment_fn(xb, g)
            if schedule != "none":
                set_lr(opt, factor(((epoch - 1) * n_batches + i // batch_size) / (epochs * n_batches)))
            if hand is not None:                         # forward, backward and update, by hand
                batch_loss, out = hand.step(xb, yb)
            else:
                with autocast:
                    out = forward(xb)                    # (B, C)
                    # one process: the batch mean; DDP averages ranks' gradients, so each sends sum / share
                    batch_loss = loss_fn(out, yb) if world == 1 else loss_fn(out, yb, reduction="sum") / share
            if on_cpu:
                if not math.isfinite(value := batch_loss.item()):
                    raise non_finite(value, epoch, i // batch_size + 1, n_batches, opt)
                loss_total += value * share
            else:
                batch_losses[i // batch_size] = batch_loss.detach()  # no host sync on the GPU
                loss_sum.add_(batch_loss.detach(), alpha=share)
            if hand is None:
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
            if classify:
                correct += predictions_correct(out.detach(), yb, loss)
        loss_sum += loss_total
        distributed.all_sum_(loss_sum, correct)
        train_loss = loss_sum.item() / n
        if not math.isfinite(train_loss):
            bad = [] if batch_losses is None else (~torch.isfinite(batch_losses)).nonzero().flatten().tolist()
            raise non_finite(train_loss, epoch, bad[0] + 1 if bad else n_batches, n_batches, opt)
        row = {"epoch": epoch, "train_loss": train_loss}
        if classify:
            row["train_accuracy"] = correct.item() / n
        for name, (x, y) in splits.items():
            if name != "train":
                for key, value in evaluate(model, x, y, loss_fn, loss, classify).items():
                    row[f"{name}_{key}"] = value
        row["seconds"] = time.perf_counter() - t0
        history.rows.append(row)
        for callback in callbacks:
            callback(epoch, history, model, opt)
    return history
