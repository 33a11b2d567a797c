"""Callbacks by event, as Keras has them, and early stopping.

``fit`` calls every callback's ``on_train_begin(history, model, opt)`` once (the history holds a resumed
run's earlier epochs), ``on_batch_end(epoch, batch, batches)`` after each training batch (only where a callback
overrides it: progress bars), ``on_epoch_end(epoch, history, model, opt)``
after each epoch (its history row already recorded; return True to stop after this epoch) and
``on_train_end(history, model)`` once at the end, also after an early stop. A plain function
``f(epoch, history, model, opt)`` is taken as an epoch-end callback.

>>> stopper = EarlyStopping(patience=3, monitor="val_loss")   # then fit(..., callbacks=[stopper])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mlplab.training.history import History
from mlplab.training.state import TrainState


class Callback:
    """Override the events you need; each does nothing by default."""

    def on_train_begin(self, history: History, model: nn.Module, opt: torch.optim.Optimizer) -> None:
        pass

    def on_batch_end(self, epoch: int, batch: int, batches: int) -> None:
        """After each training batch (1..batches) of ``epoch``; keep it cheap (progress bars look at the clock).
        fit calls it only on callbacks that override it."""

    def on_epoch_end(self, epoch: int, history: History, model: nn.Module, opt: torch.optim.Optimizer) -> bool | None:
        pass

    def on_train_end(self, history: History, model: nn.Module) -> None:
        pass


class EpochEnd(Callback):
    """A function ``f(epoch, history, model, opt)`` called after every epoch."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def on_epoch_end(self, epoch, history, model, opt):
        return self.fn(epoch, history, model, opt)


def as_callback(cb) -> Callback:
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return EpochEnd(cb)
    raise TypeError(f"callbacks must be Callback objects or functions f(epoch, history, model, opt); got {cb!r}")


def higher_is_better(monitor: str) -> bool:
    """Accuracy-like columns improve upwards, losses (and errors) downwards."""
    return any(word in monitor for word in ("accuracy", "auc", "r2", "f1", "precision", "recall"))


def check_monitor(monitor: str, columns: list[str]) -> None:
    """``monitor`` must be a column the history will have, and not a test column (that would select on test)."""
    if monitor.startswith("test_"):
        raise ValueError(f"early stopping on {monitor!r} would choose the model by the test set; hold out a "
                         "validation split (val_fraction > 0) and monitor val_loss or val_accuracy")
    if monitor not in columns:
        hint = "; hold out a validation split (val_fraction > 0)" if monitor.startswith("val_") else ""
        raise ValueError(f"early stopping monitors {monitor!r}, which this run does not record; its columns: "
                         f"{', '.join(columns)}{hint}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs, then (with
    ``restore_best``) put back the weights of the best epoch, as Keras' ``EarlyStopping(restore_best_weights=True)``.

    The best epoch and the epoch training stopped after go into ``history.best_epoch``/``history.stopped_epoch``;
    the best weights are kept as a copy in ``state.best`` (a TrainState: the checkpointer saves it). Everything
    else it knows it reads back from the history's rows, so a resumed run (its History and TrainState from a
    checkpoint) stops where the unbroken one would.
    """

    def __init__(self, patience: int, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = True,
                 state: TrainState | None = None):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"early stopping patience must be a positive number of epochs, e.g. 5; got {patience!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a history column name such as 'val_loss'; got {monitor!r}")
        self.patience, self.monitor, self.min_delta, self.restore_best = patience, monitor, min_delta, restore_best
        self.state = TrainState() if state is None else state
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped = False

    def improved(self, value: float) -> bool:
        if self.best is None:
            return value == value  # NaN never improves
        return value > self.best + self.min_delta if higher_is_better(self.monitor) else value < self.best - self.min_delta

    def on_train_begin(self, history, model, opt):
        self.best, self.best_epoch, self.wait, self.stopped = None, None, 0, False
        for row in history.rows:  # a resumed run: catch up with the epochs it already has
            self._see(row["epoch"], row[self.monitor])

    def _see(self, epoch: int, value: float) -> bool:
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    def on_epoch_end(self, epoch, history, model, opt):
        if self._see(epoch, history.rows[-1][self.monitor]) and self.restore_best:
            self.state.best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.stopped = self.wait >= self.patience
        if self.stopped:  # now, so later callbacks (the checkpointer) know this epoch is the last
            history.stopped_epoch = epoch
        return self.stopped

    def on_train_end(self, history, model):
        if self.best_epoch is None:
            return
        history.stopped_epoch = history.rows[-1]["epoch"] if self.stopped else None
        if not self.restore_best:
            return
        if self.best_epoch != history.rows[-1]["epoch"]:
            if self.state.best is None:
                raise ValueError(f"early stopping cannot restore epoch {self.best_epoch}'s weights: they were not "
                                 "kept (a run resumed from a checkpoint without them)")
            model.load_state_dict(self.state.best)
        history.best_epoch = self.best_epoch
