"""Recipes: the tutorials' classic experiments, one command each, each ending in PNG plots and a report.md.

Every recipe module defines ``TITLE`` and ``run(out, seed=0, quick=False, data_dir=None) -> dict``: it writes
its plots and ``report.md`` (the numbers and one paragraph on what they show) into ``out`` and returns the
numbers. ``quick`` is a small version for tests (seconds); ``data_dir`` matters only to the Fashion-MNIST ones.

>>> sorted(RECIPES)  # doctest: +NORMALIZE_WHITESPACE
['activations', 'cnn-vs-mlp', 'dropout', 'init', 'lstm-memory', 'optimizer-paths', 'optimizers',
 'playground', 'polyfit', 'weight-decay']
"""

from __future__ import annotations

import importlib
from pathlib import Path

from mlplab.registry import lookup

RECIPES = {  # name -> module in this package
    "polyfit": "polyfit",
    "weight-decay": "weight_decay",
    "dropout": "dropout",
    "init": "init",
    "optimizers": "optimizers",
    "optimizer-paths": "optimizer_paths",
    "playground": "playground",
    "activations": "activations",
    "lstm-memory": "lstm_memory",
    "cnn-vs-mlp": "cnn_vs_mlp",
}

# How long each takes with --quick and in full: training and plots on the shared 2-core CPU, one thread, process
# start-up (2-3 s) not included. Measured 2026-12-03 unless marked; `mlplab recipe --help` lists them.
DURATIONS = {
    "polyfit": ("2 s", "6 s"),
    "weight-decay": ("2 s", "2 s (already small: the same run)"),
    "dropout": ("2 s", "about 10 min (4 nets x 10 epochs of 60,000 images)"),
    "init": ("3 s", "5 s"),
    "optimizers": ("1 s", "5 s"),
    "optimizer-paths": ("2 s", "12 s"),
    "playground": ("4 s", "about 30 s (estimated: 150 epochs against the quick 20)"),
    "activations": ("3 s", "about 4 min (estimated: 3 nets x 5 epochs of 60,000 images)"),
    "lstm-memory": ("12-15 s", "20-30 s"),
    "cnn-vs-mlp": ("2 s", "several minutes (not timed: a CNN over 60,000 images x 3 epochs)"),
}


def duration(name: str) -> str:
    """``quick 2 s, full 6 s``."""
    quick, full = DURATIONS.get(name, ("?", "?"))
    return f"quick {quick}, full {full}"


def run_recipe(name: str, out: str | Path, seed: int = 0, quick: bool = False,
               data_dir: str | Path | None = None) -> dict:
    """Run recipe ``name`` into folder ``out`` (created if needed); returns its numbers."""
    from mlplab.runs.rundir import check_writable  # on use: `mlplab --help` lists the recipes without torch

    module = importlib.import_module(f"{__name__}.{lookup(RECIPES, name, 'recipe')}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    return module.run(check_writable(out), seed=seed, quick=quick, data_dir=data_dir)
