"""Progress output: a live bar in a terminal, one compact line per epoch otherwise, nothing when quiet."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


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


class EpochProgress:
    """Callback for ``fit``: call with ``(epoch, history, model, opt)`` after each epoch."""

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

    def start(self, done: int = 0) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
            self.bar.start()

    def __call__(self, epoch, history, model, opt) -> None:
        row = history.rows[-1]
        if self.mode == "lines":
            print(format_row(row, self.epochs), file=self.stream, flush=True)
        elif self.bar is not None:  # the epoch's line stays above the live bar
            self.bar.console.print(format_row(row, self.epochs), highlight=False, soft_wrap=True)
            self.bar.update(self.task, completed=epoch)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
