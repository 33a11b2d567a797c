"""Progress output: a live bar in a terminal, timed lines otherwise, nothing when quiet.

In a terminal (``bar``) a bar moves within each epoch, with the batch rate and the time left for the whole run;
each finished epoch's numbers stay printed above it. In a pipe or a log (``lines``) each epoch prints one line,
and an epoch longer than ``every`` seconds (10) also prints where it is, so a long run is never silent. The
per-batch hook looks at the clock and returns: the bar is redrawn at most every 0.2 s.
"""

from __future__ import annotations

import sys
import time

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


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Pace:
    """Batches done and to do over the whole run (from the epoch it starts at), the rate and the time left."""

    def __init__(self, epochs: int):
        self.epochs, self.first_epoch = epochs, None
        self.start = time.perf_counter()
        self.epoch, self.batch, self.batches = 0, 0, 0

    def at(self, epoch: int, batch: int, batches: int) -> None:
        if self.first_epoch is None:
            self.first_epoch, self.start = epoch, time.perf_counter()
        self.epoch, self.batch, self.batches = epoch, batch, batches

    @property
    def done(self) -> int:
        return (self.epoch - self.first_epoch) * self.batches + self.batch if self.first_epoch else 0

    @property
    def total(self) -> int:
        return (self.epochs - (self.first_epoch or 1) + 1) * self.batches

    def rate(self) -> float:
        """Batches per second so far (evaluation time included, so the time left is honest)."""
        elapsed = time.perf_counter() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def left(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def rate_left(self) -> str:
        """``41.2 batch/s  2m05s left``."""
        left = self.left()
        return f"{self.rate():.1f} batch/s" + (f"  {duration(left)} left" if left is not None else "")

    def text(self) -> str:
        """``epoch 3/10  batch 120/469  41.2 batch/s  2m05s left``."""
        return f"epoch {self.epoch}/{self.epochs}  batch {self.batch}/{self.batches}  {self.rate_left()}"


class EpochProgress(Callback):
    """A fit callback: a live bar in a terminal (``bar``), or timed lines (``lines``, for pipes and logs)."""

    def __init__(self, epochs: int, mode: str = "auto", stream=None, every: float = 10.0):
        self.epochs = epochs
        self.stream = stream or sys.stdout
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode, self.every = mode, every
        self.pace = Pace(epochs)
        self.next_draw = 0.0
        self.bar = None
        if mode == "bar":
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            # Drawn by the training thread when the numbers change (no refresh thread competing for the CPU).
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[pace]}"),
                                TimeElapsedColumn(), transient=True, auto_refresh=False)
            self.task = self.bar.add_task("training", total=1, pace="")

    def on_train_begin(self, history, model, opt) -> None:
        self.next_draw = time.perf_counter() + (0.2 if self.bar is not None else self.every)
        if self.bar is not None:
            self.bar.start()

    def on_batch_end(self, epoch: int, batch: int, batches: int) -> None:
        now = time.perf_counter()
        if now < self.next_draw and batch != 1:
            return
        self.pace.at(epoch, batch, batches)
        if now < self.next_draw:
            return
        if self.bar is not None:
            self.next_draw = now + 0.2
            self.bar.update(self.task, description=f"epoch {epoch}/{self.epochs}", total=batches, completed=batch,
                            pace=self.pace.rate_left(), refresh=True)
        else:
            self.next_draw = now + self.every
            print(self.pace.text(), file=self.stream, flush=True)

    def on_epoch_end(self, epoch, history, model, opt) -> None:
        row = history.rows[-1]
        if self.mode == "lines":
            print(format_row(row, self.epochs), file=self.stream, flush=True)
            self.next_draw = time.perf_counter() + self.every  # the next timed line ``every`` s after this one
        elif self.bar is not None:  # the epoch's line stays above the live bar
            self.bar.console.print(format_row(row, self.epochs), highlight=False, soft_wrap=True)

    def on_train_end(self, history, model) -> None:
        self.stop()

    def stop(self) -> None:
        """End the live bar (also when training fails midway)."""
        if self.bar is not None:
            self.bar.stop()


def overall(done: int, total: int, started: float) -> str:
    """`` (2m05s so far, about 6m10s left)`` for a job of ``total`` equal parts (compare members, cv folds)."""
    elapsed = time.perf_counter() - started
    left = f", about {duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
    return f" ({duration(elapsed)} so far{left})"


class Heartbeat(Callback):
    """A line through ``say`` every ``every`` seconds while a run trains (epoch, batch, rate, and the time left
    when ``epochs`` is known): for a run inside a longer job (a compare member, a cv fold) that is otherwise
    silent until it ends."""

    def __init__(self, label: str, say=print, epochs: int | None = None, every: float = 10.0):
        self.label, self.say, self.every = label, say, every
        self.pace, self.epochs, self.next_line = Pace(epochs or 0), epochs, 0.0

    def on_train_begin(self, history, model, opt) -> None:
        self.next_line = time.perf_counter() + self.every

    def on_batch_end(self, epoch: int, batch: int, batches: int) -> None:
        now = time.perf_counter()
        if now < self.next_line and batch != 1:
            return
        self.pace.at(epoch, batch, batches)
        if now >= self.next_line:
            self.next_line = now + self.every
            where = (self.pace.text() if self.epochs else
                     f"epoch {epoch}  batch {batch}/{batches}  {self.pace.rate():.1f} batch/s")
            self.say(f"{self.label}: {where}")
