"""The training loop: data resident on the device, a seeded permutation per epoch, one step object per batch.

Read it top to bottom: check the settings, choose the model's memory layout and the step
(mlplab.training.step: by hand or autograd, and why), then per epoch shuffle, take batches with
``index_select``, step, record; evaluate every split in eval mode without gradients; call the callbacks.
Each epoch's shuffling and dropout masks come from ``(seed, epoch)`` alone, so a run restarted at any epoch
boundary continues exactly as an uninterrupted one.

After ``fit`` every parameter's ``.grad`` holds ∂ℓ/∂p of the mean training loss over the last training batch
at the final weights, in eval mode (no dropout), by autograd — the same on both paths (by hand, plain SGD
never forms a gradient tensor while training) and consistent with the weights early stopping restores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import shutil
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from mlplab.config import TrainConfig
from mlplab.errors import NonFiniteLoss
from mlplab.data.augment import get_augment
from mlplab.data.dataset import Dataset
from mlplab.registry import impl_module
from mlplab.settings import check_names
from mlplab.training import distributed
from mlplab.training.averaging import WeightAverage
from mlplab.training.callbacks import Callback, EarlyStopping, as_callback, check_monitor
from mlplab.training.device import check_device, model_dtype
from mlplab.training.evaluate import evaluate, predictions_correct, split_metrics
from mlplab.training.history import History
from mlplab.training.state import TrainState
from mlplab.training.losses import loss_for_task
from mlplab.training.optim import build_optimizer
from mlplab.training.schedules import get_schedule, set_lr
from mlplab.training.step import (
    AMP,
    MEMORY_FORMATS,
    StepContext,
    choose_memory_format,
    choose_step,
)

# The TrainConfig keys fit reads; the others describe the data, the model or the run folder, which fit is given.
FIT_KEYS = ("impl", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "loss", "epochs", "batch_size",
            "schedule", "augment", "seed", "device", "compile", "amp", "backprop", "early_stopping", "monitor",
            "class_weight", "label_smoothing", "ema", "grad_clip", "dampening", "betas", "eps", "alpha", "rho",
            "amsgrad")
OPTIMIZER_KEYS = ("optimizer", "lr", "momentum", "nesterov", "weight_decay", "dampening", "betas", "eps", "alpha",
                  "rho", "amsgrad")


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; anything else must be a device that trains here."""
    return check_device(device)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffling and dropout masks, derived from the run seed alone."""
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def non_finite(value: float, where: str, opt) -> NonFiniteLoss:
    return NonFiniteLoss(f"the {where.format(value=value)}; likely causes: a learning rate too high "
                         f"(lr={opt.param_groups[0]['lr']}, try 10x smaller), unscaled inputs (standardise them), "
                         "or a loss that does not fit the model's output")


def check_labels(data: Dataset, y: Tensor, loss: str) -> None:
    """Class indices in [0, num_classes), binary targets in [0, 1]: else the loss fails or lies."""
    if data.task == "multiclass" and len(y) and (int(y.min()) < 0 or int(y.max()) >= data.num_classes):
        raise ValueError(f"the training labels of {data.name} must be class indices in [0, {data.num_classes}) "
                         f"for {loss}; found {int(y.min())}..{int(y.max())}; check where the labels come from")
    if data.task == "binary" and len(y) and (float(y.min()) < 0 or float(y.max()) > 1):
        raise ValueError(f"the training targets of {data.name} must be in [0, 1] for {loss}; found "
                         f"{float(y.min())}..{float(y.max())}")


def fit_config(config: TrainConfig | None, keys: dict, opt, optimizer_args) -> TrainConfig:
    """``config`` (or the defaults) with ``keys`` applied; a key fit would not use is an error, never ignored."""
    other = sorted(set(keys) - set(FIT_KEYS))
    if other:
        known = set(TrainConfig.__dataclass_fields__)
        what = ("describe(s) the data, the model or the run folder, which fit is given; mlplab.train takes them"
                if set(other) <= known else f"is/are not fit arguments; fit takes: {', '.join(FIT_KEYS)}")
        raise TypeError(f"fit got {', '.join(other)}: {what}")
    if opt is not None and (set(keys) & set(OPTIMIZER_KEYS) or optimizer_args):
        given = sorted(set(keys) & set(OPTIMIZER_KEYS)) + (["optimizer_args"] if optimizer_args else [])
        raise ValueError(f"fit got opt= and {', '.join(given)}: the optimizer object already fixes them; pass "
                         "either opt or the optimizer settings")
    config = (config or TrainConfig()).replace(**keys)
    check_names(config)  # fit is a door too: an unknown name fails here, as in settings.resolve
    return config


def fit(model: nn.Module, data: Dataset, config: TrainConfig | None = None, *,
        opt: torch.optim.Optimizer | None = None, optimizer_args: dict | None = None,
        history: History | None = None, state: TrainState | None = None, callbacks: Sequence = (),
        penalty: Callable | None = None, **keys) -> History:
    """Train ``model`` on ``data`` as ``config`` (a TrainConfig) and ``keys`` (its training keys) say.

    ``keys`` are TrainConfig's training keys (``optimizer``, ``lr``, ``epochs``, ``batch_size``, ``seed``,
    ``early_stopping``, ... see FIT_KEYS); ``optimizer_args`` passes further hyperparameters by torch's names.
    To continue a run, pass its ``history`` (training starts after its last epoch) and its optimizer ``opt``
    (then the optimizer keys come from it: giving both is an error). ``callbacks``: see
    mlplab.training.callbacks. ``penalty(model)`` is a term added to every batch's loss before backward
    (e.g. ``lambda m: mlplab.scratch.losses.l2_penalty(m, 3.0)``); the history records the data loss alone.
    The History also records the path the steps took (``backprop``: ``hand`` or ``autograd``) and the model's
    memory layout (``memory_format``: ``contiguous`` or ``channels_last``), each with why.

    >>> from mlplab.data.load import load_dataset; from mlplab.models.mlp import MLP
    >>> d = load_dataset("iris"); h = fit(MLP(4, [16], 3), d, epochs=2, device="cpu")
    >>> len(h.rows), h.backprop
    (2, 'hand')
    """
    config = fit_config(config, keys, opt, optimizer_args)
    loop = Loop.build(model, data, config, opt, optimizer_args, penalty)
    history = history if history is not None else History()
    state = state if state is not None else TrainState()  # a resumed run's, from its checkpoint
    history.backprop, history.backprop_reason = loop.choice.path, loop.choice.reason
    history.memory_format, history.memory_format_reason = loop.layout
    callbacks = [as_callback(cb) for cb in callbacks]
    if config.early_stopping is not None:  # first, so the other callbacks see its verdict on this epoch
        check_monitor(config.monitor, [f"{s}_{m}" for s in loop.splits for m in split_metrics(data.task)])
        callbacks.insert(0, EarlyStopping(config.early_stopping, config.monitor, state=state))
    average = WeightAverage(model, config.ema, state.ema) if config.ema else None
    start = history.rows[-1]["epoch"] if history.rows else 0
    perm = None
    for cb in callbacks:
        cb.on_train_begin(history, model, loop.opt)
    batch_hooks = [cb.on_batch_end for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]

    for epoch in range(start + 1, config.epochs + 1):
        t0 = time.perf_counter()
        if average is not None and average.swapped:  # train on from the training weights, not their average
            average.swap()
        row, perm = loop.train_epoch(epoch, average, batch_hooks)
        if average is not None:  # evaluation, callbacks (early stopping, checkpoints) and the end see the average
            average.swap()
            state.ema = average.other
        row.update(loop.evaluate(epoch))
        row["seconds"] = time.perf_counter() - t0
        history.rows.append(row)
        stop = False
        for cb in callbacks:
            stop = bool(cb.on_epoch_end(epoch, history, model, loop.opt)) or stop
        if stop:
            break
    for cb in callbacks:
        cb.on_train_end(history, model)
    if perm is not None:
        last_batch_gradients(model, loop.x_train, loop.y_train, perm, config.batch_size, loop.loss_fn)
    return history


@dataclass
class Loop:
    """What every epoch of ``fit`` uses, set up once: the device and layout, the optimizer, the step (by hand or
    autograd), the splits on the device, the schedule and augmentation."""

    model: nn.Module
    data: Dataset
    config: TrainConfig
    opt: torch.optim.Optimizer
    choice: object                   # mlplab.training.step's choice: .step, .path, .reason
    layout: tuple[str, str]          # (memory format, why)
    splits: dict                     # name -> (x, y) on the device, x in the model's dtype
    x_train: Tensor
    y_train: Tensor
    loss: str
    loss_fn: Callable
    device: torch.device
    rank: int
    world: int
    factor: Callable
    augment_fn: Callable

    @classmethod
    def build(cls, model: nn.Module, data: Dataset, config: TrainConfig, opt, optimizer_args, penalty) -> Loop:
        losses, optim = impl_module(config.impl, "losses"), impl_module(config.impl, "optim")
        loss = loss_for_task(config.loss, data.task)
        loss_fn = losses.get_loss(loss, losses.LOSSES)
        dev = resolve_device(config.device)
        rank, world = distributed.rank_and_world()
        layout = choose_memory_format(model, dev, world=world, compile=config.compile)
        model.to(dev, memory_format=MEMORY_FORMATS[layout[0]])  # the parameters stay the same objects (opt holds them)
        factor, augment_fn = get_schedule(config.schedule), get_augment(config.augment, data.input_shape)
        if config.batch_size < world:
            raise ValueError(f"batch_size ({config.batch_size}) is the global batch and must be >= the {world} processes")
        if opt is None:
            opt = build_optimizer(config, model, **(optimizer_args or {}))
        elif type(opt) is not optim.OPTIMIZERS[config.optimizer]:
            raise ValueError(f"opt is a {type(opt).__name__} but the config says optimizer {config.optimizer!r}; "
                             "pass the config the optimizer was built from")
        forward = distributed.data_parallel(model, dev) if world > 1 else model
        if config.compile and dev.type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
            raise ValueError("compile on CPU needs a C++ compiler (g++ or clang++) on PATH; install one or drop --compile")
        if config.compile:  # CUDA graphs on a GPU; two static shapes (full and last batch); eval uses the plain model
            forward = torch.compile(forward, mode="reduce-overhead" if dev.type == "cuda" else None, dynamic=False)
        train_loss_fn, class_weight, smoothing = training_loss(loss, loss_fn, data, config)
        ctx = StepContext(model, loss, opt, config.impl, dev, world, config.compile, penalty is not None,
                          class_weight=class_weight, label_smoothing=smoothing, amp=config.amp,
                          grad_clip=config.grad_clip)
        choice = choose_step(config.backprop, ctx, forward=forward, loss_fn=train_loss_fn, penalty=penalty)
        dtype = model_dtype(model)
        splits = {name: (x.to(dev, dtype), y.to(dev)) for name, (x, y) in data.encoded_splits().items()}
        x_train, y_train = splits["train"]
        if choice.path == "hand" and config.amp is not None:  # by hand in bf16 every batch is cast anyway: cast once
            x_train = x_train.to(AMP[config.amp])
        check_labels(data, y_train, loss)
        return cls(model, data, config, opt, choice, layout, splits, x_train, y_train, loss, loss_fn, dev, rank,
                   world, factor, augment_fn)

    def train_epoch(self, epoch: int, average: WeightAverage | None, batch_hooks: Sequence = ()) -> tuple[dict, Tensor]:
        """One pass over the training rows in a seeded order; the epoch's row so far, and the order.
        ``batch_hooks``: called with (epoch, batch, batches) after each batch (progress bars)."""
        config, dev, world, n = self.config, self.device, self.world, len(self.x_train)
        on_cpu = dev.type == "cpu"  # CPU: check each batch's loss at once; elsewhere record it, check per epoch
        n_batches = -(-n // config.batch_size)
        batch_losses = None if on_cpu else torch.zeros(n_batches, device=dev)
        self.model.train()
        g = torch.Generator(device=dev).manual_seed(epoch_seed(config.seed, epoch))
        torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout masks
        perm = torch.randperm(n, generator=g, device=dev)
        loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
        loss_total = 0.0                                 # on the CPU, summed on the host (no extra op)
        correct = torch.zeros((), device=dev, dtype=torch.int64)
        for i in range(0, n, config.batch_size):
            idx = perm[i:i + config.batch_size]          # the global batch
            share = len(idx) / world                     # this rank's weight in the global mean
            idx = distributed.shard(idx, self.rank, world) if world > 1 else idx
            xb, yb = self.x_train.index_select(0, idx), self.y_train.index_select(0, idx)  # (B, ...), (B,) or (B, 1)
            xb = self.augment_fn(xb, g)
            if config.schedule != "none":
                set_lr(self.opt, self.factor(((epoch - 1) * n_batches + i // config.batch_size)
                                             / (config.epochs * n_batches)))
            batch_loss, out = self.choice.step.step(xb, yb, share)
            if average is not None:
                average.update()
            if on_cpu:
                if not math.isfinite(value := batch_loss.item()):
                    raise non_finite(value, f"training loss became {{value}} in epoch {epoch}, batch "
                                            f"{i // config.batch_size + 1} of {n_batches}", self.opt)
                loss_total += value * share
            else:
                batch_losses[i // config.batch_size] = batch_loss  # no host sync on the GPU
                loss_sum.add_(batch_loss, alpha=share)
            if self.data.task != "regression":
                correct += predictions_correct(out, yb, self.loss)
            for hook in batch_hooks:
                hook(epoch, i // config.batch_size + 1, n_batches)
        loss_sum += loss_total
        distributed.all_sum_(loss_sum, correct)
        train_loss = loss_sum.item() / n
        if not math.isfinite(train_loss):
            bad = [] if batch_losses is None else (~torch.isfinite(batch_losses)).nonzero().flatten().tolist()
            raise non_finite(train_loss, f"training loss became {{value}} in epoch {epoch}, batch "
                                         f"{bad[0] + 1 if bad else n_batches} of {n_batches}", self.opt)
        row = {"epoch": epoch, "train_loss": train_loss}
        if self.data.task != "regression":
            row["train_accuracy"] = correct.item() / n
        return row, perm

    def evaluate(self, epoch: int) -> dict:
        """Every held-out split's metrics in eval mode, without gradients (mlplab.training.evaluate)."""
        row = {}
        for name, (x, y) in self.splits.items():
            if name != "train":
                for key, value in evaluate(self.model, x, y, self.loss_fn, self.loss, self.data.task).items():
                    row[f"{name}_{key}"] = value
                if not math.isfinite(row[f"{name}_loss"]):  # the weights diverged: keep the last good epoch
                    raise non_finite(row[f"{name}_loss"], f"{name} loss became {{value}} after epoch {epoch}",
                                     self.opt)
        return row


def training_loss(loss: str, loss_fn, data: Dataset, config: TrainConfig) -> tuple[Callable, Tensor | None, float]:
    """(loss function, class weight (C,) or None, label smoothing) to train with: ``loss_fn`` itself, or with
    the class weights and label smoothing config asks for (mlplab.training.losses.with_options)."""
    smoothing = config.label_smoothing if data.task != "regression" else 0.0  # a classification option
    if config.class_weight is None and not smoothing:
        return loss_fn, None, 0.0
    from mlplab.training.losses import with_options

    weight = None
    if config.class_weight == "balanced":
        y = data.y_train.reshape(-1).long()
        counts = torch.bincount(y, minlength=data.num_classes or 2).double()
        weight = (len(y) / (len(counts) * counts.clamp(min=1))).float()  # n / (C · n_c)
    return with_options(loss, weight, smoothing), weight, smoothing


def last_batch_gradients(model: nn.Module, x: Tensor, y: Tensor, perm: Tensor, batch_size: int, loss_fn) -> None:
    """Leave ∂ℓ/∂p of the last training batch (at the final weights, eval mode) in every ``p.grad``."""
    idx = perm[(len(perm) - 1) // batch_size * batch_size:]
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    dtype = next(model.parameters()).dtype                    # a bf16 copy of the inputs goes back to the weights' dtype
    with torch.enable_grad():
        loss_fn(model(x.index_select(0, idx).to(dtype)), y.index_select(0, idx)).backward()
    model.train(was_training)
