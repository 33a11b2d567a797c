"""What every recipe shares: a line as each of its training runs ends, and its report.md."""

from __future__ import annotations

from pathlib import Path

from mlplab.runs.rundir import write_text
from mlplab.training.callbacks import Callback


class Narrate(Callback):
    """One line as each of a recipe's training runs ends (its final numbers and seconds): a recipe that runs for
    minutes says what it is doing."""

    def __init__(self, label: str):
        self.label = label

    def on_train_end(self, history, model):
        final = history.final
        shown = "  ".join(f"{k} {final[k]:.4g}" for k in ("train_loss", "test_loss", "test_accuracy") if k in final)
        seconds = sum(history.column("seconds"))
        print(f"  {self.label}: {len(history.rows)} epoch(s), {shown} ({seconds:.1f}s)", flush=True)


def write_report(out: Path, name: str, title: str, paragraph: str, sections: list[tuple[str, str]],
                 images: list[str], seed: int, quick: bool) -> Path:
    """``report.md``: title, the command, the paragraph, then each (heading, markdown) section and the plots."""
    command = f"mlplab recipe {name} --out {out} --seed {seed}" + (" --quick" if quick else "")
    lines = [f"# {title}", "", f"`{command}`" + (" (quick version: smaller than the full recipe, numbers differ)"
                                                  if quick else ""), "", paragraph, ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", body.rstrip(), ""]
    lines += [f"![{image}]({image})" for image in images]
    return write_text(out / "report.md", "\n".join(lines) + "\n")
