"""What every recipe shares: a line as each of its training runs ends, the verdict on its lesson, and its
report.md."""

from __future__ import annotations

import time
from pathlib import Path

from mlplab.runs.rundir import write_text
from mlplab.training.callbacks import Callback


class Narrate(Callback):
    """One line as each of a recipe's training runs ends (its final numbers and seconds), and one every ``every``
    seconds while a long one trains (epoch, batch, rate): a recipe that runs for minutes says what it is doing."""

    def __init__(self, label: str, every: float = 10.0):
        self.label, self.every, self.next_line = label, every, 0.0

    def on_train_begin(self, history, model, opt):
        self.next_line = time.perf_counter() + self.every
        self.start = time.perf_counter()
        self.batches = 0

    def on_batch_end(self, epoch, batch, batches):
        self.batches += 1
        if (now := time.perf_counter()) >= self.next_line:
            self.next_line = now + self.every
            print(f"  {self.label}: epoch {epoch}, batch {batch}/{batches}, "
                  f"{self.batches / (now - self.start):.1f} batch/s", flush=True)

    def on_train_end(self, history, model):
        final = history.final
        shown = "  ".join(f"{k} {final[k]:.4g}" for k in ("train_loss", "test_loss", "test_accuracy") if k in final)
        seconds = sum(history.column("seconds"))
        print(f"  {self.label}: {len(history.rows)} epoch(s), {shown} ({seconds:.1f}s)", flush=True)


def verdict(expected: str, held: bool, seen: str, why: str) -> str:
    """One plain line on the recipe's lesson: what should appear, whether it did in this run (``seen``: the
    numbers), and when it did not, ``why`` that can happen. A lesson that did not show is said, never hidden."""
    if held:
        return f"**Expected:** {expected}. **In this run:** it appeared: {seen}."
    return f"**Expected:** {expected}. **In this run it did not appear:** {seen}. Why that can happen: {why}"


def write_report(out: Path, name: str, title: str, paragraph: str, sections: list[tuple[str, str]],
                 images: list[str], seed: int, quick: bool, lesson: str | None = None) -> Path:
    """``report.md``: title, the command, the verdict on the lesson (``verdict``), the paragraph, then each
    (heading, markdown) section and the plots."""
    command = f"mlplab recipe {name} --out {out} --seed {seed}" + (" --quick" if quick else "")
    lines = [f"# {title}", "", f"`{command}`" + (" (quick version: smaller than the full recipe, numbers differ)"
                                                  if quick else ""), ""]
    lines += [lesson, ""] if lesson else []
    lines += [paragraph, ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", body.rstrip(), ""]
    lines += [f"![{image}]({image})" for image in images]
    return write_text(out / "report.md", "\n".join(lines) + "\n")
