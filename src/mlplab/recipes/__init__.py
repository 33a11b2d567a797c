"""Recipes: the tutorials' classic experiments, one command each, each ending in PNG plots and a report.md.

Every recipe module defines ``TITLE`` and ``run(out, seed=0, quick=False, data_dir=None) -> dict``: it writes
its plots and ``report.md`` (the numbers and one paragraph on what they show) into ``out`` and returns the
numbers. ``quick`` is a small version for tests (seconds); ``data_dir`` matters only to the Fashion-MNIST ones.

>>> sorted(RECIPES)
['activations', 'dropout', 'init', 'optimizers', 'polyfit', 'weight-decay']
"""

from __future__ import annotations

import importlib
from pathlib import Path

from mlplab.registry import lookup
from mlplab.runs.rundir import check_writable, write_text
from mlplab.training.callbacks import Callback

RECIPES = {  # name -> module in this package
    "polyfit": "polyfit",
    "weight-decay": "weight_decay",
    "dropout": "dropout",
    "init": "init",
    "optimizers": "optimizers",
    "activations": "activations",
}


def run_recipe(name: str, out: str | Path, seed: int = 0, quick: bool = False,
               data_dir: str | Path | None = None) -> dict:
    """Run recipe ``name`` into folder ``out`` (created if needed); returns its numbers."""
    module = importlib.import_module(f"{__name__}.{lookup(RECIPES, name, 'recipe')}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    return module.run(check_writable(out), seed=seed, quick=quick, data_dir=data_dir)


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
