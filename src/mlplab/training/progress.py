"""Progress output: a live bar in a terminal, one compact line per epoch otherwise, nothing when quiet."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from mlplab.training.callbacks import Callback


def format_row(row: dict, epochs: int) -> str:
    """``epoch  3/10  train_loss 0.4123  train_acc 0.853  test_loss 0.4410  test_acc 0.842  0.61s``."""
    parts = [f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}"]
    for key, value in row.items():
        if key in ("epoch", "seconds"):
            continue
        short = key.replace("accuracy", "acc")
        parts.append(f"{short} {value:.4f}")
    parts.append(f"{row['seconds']:.2f}s")
    return "  ".join(parts)


class EpochProgress(Callback):
    """A fit callback: a live bar in a terminal (``bar``), or one line per epoch (``lines``, for pipes and logs)."""

    def __init__(self, epochs: int, mode: str = "auto", stream=None):
        self.epochs = epochs
        self.stream = stream or sys.stdout
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode
        self.bar = None
        if mode == "bar":
            self.bar = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("epochs"), TimeElapsedColumn(), transient=True)
            self.task = self.bar.add_task("train", total=epochs)

    def on_train_begin(self, history, model, opt) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=len(history.rows))
            self.bar.start()

    def on_epoch_end(self, epoch, history, model, opt) -> None:
        row = history.rows[-1]
        if self.mode == "lines":
            print(format_row(row, self.epochs), file=self.stream, flush=True)
        elif self.bar is not None:  # the epoch's line stays above the live bar
            self.bar.console.print(format_row(row, self.epochs), highlight=False, soft_wrap=True)
            self.bar.update(self.task, completed=epoch)

    def on_train_end(self, history, model) -> None:
        self.stop()

    def stop(self) -> None:
        """End the live bar (also when training fails midway)."""
        if self.bar is not None:
            self.bar.stop()
