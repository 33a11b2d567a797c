"""The table recipe: the settings a table starts from, by rules on what the data shows, unless the user sets them.

``TABLE`` holds what every table gets; ``table_keys(data)`` adds what depends on the table once it is read: its
task and its number of training rows (no rule names a dataset). mlplab.settings.resolve puts them under the
user's keys.

Sources:
- RealMLP-TD (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted
  Trees on Tabular Data"): robust scaling and smooth clipping (mlplab.data.columns), Adam with the lr annealed,
  label smoothing 0.1 only where it helps the metric (here binary tasks, judged by ROC-AUC; for classes judged
  by accuracy and log-loss it hurt calibration), dropout 0.15 for classification.
- Gorishniy, Rubachev & Babenko 2022 ("On Embeddings for Numerical Features in Tabular Deep Learning"): periodic
  (PLR) embeddings of the numeric columns (mlplab.models.embeddings), except on large binary tables (there
  they cost up to 2x the time for nothing). The paper tunes the frequencies' initial spread σ per dataset; one
  σ per task holds across the corpus: 1 for regression and multiclass, 0.1 for binary targets (with σ 1 the
  small binary tables' ROC-AUC fell on 5 of 8).
- Gorishniy et al. 2021 ("Revisiting Deep Learning Models for Tabular Data"): early stopping on the validation
  set, keeping the best epoch.

A small table (under ``LARGE_ROWS`` training rows) needs small batches and many epochs to take enough steps; a
large one takes enough in a few epochs of large batches, which is what makes it fast. TabM-style ensembles
(``ensemble``) are not a default: on 2 CPU cores they cost 10x the time for +0.003 ROC-AUC.
What each choice measured, and the command: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import math

TABLE = {
    "activation": ("relu",),
    "optimizer": "adam",
    "weight_decay": 0.0,
    "schedule": "cosine",
    "monitor": "val_loss",
}

LARGE_ROWS = 16_384  # training rows from which a table takes the large-table keys: 32 batches of 512 an epoch
EMBEDDING = 16       # PLR frequencies per numeric column
EMBEDDING_SIGMA = {"binary": 0.1, "multiclass": 1.0, "regression": 1.0}  # their initial spread, by task
LABEL_SMOOTHING = {"binary": 0.1, "multiclass": 0.0, "regression": 0.0}
SMALL = {"hidden": (256, 256, 256), "lr": 5e-4, "batch_size": 256, "epochs": 100, "early_stopping": 16}
LARGE = {
    "classification": {"hidden": (256,), "dropout": (0.0,), "lr": 2e-3, "batch_size": 512, "epochs": 40,
                       "early_stopping": 16, "monitor": "val_accuracy"},
    "regression": {"hidden": (64, 64), "dropout": (0.0,), "lr": 6e-3, "batch_size": 1024, "early_stopping": 16},
}
REGRESSION_STEPS = 420  # a large regression table's epochs: at least 12, and enough for about this many steps


def table_keys(data=None) -> dict:
    """The keys of a table Dataset ``data`` by its task and number of training rows; a small binary table's
    when ``data`` is None (the table is not read yet).

    >>> table_keys()["hidden"], table_keys()["dropout"], table_keys()["label_smoothing"]
    ((256, 256, 256), (0.15,), 0.1)
    """
    task = "binary" if data is None else data.task
    rows = 0 if data is None else len(data.x_train)
    if rows < LARGE_ROWS:
        keys = {**SMALL, "dropout": (0.0,) if task == "regression" else (0.15,)}
    elif task != "regression":
        keys = dict(LARGE["classification"])
    else:
        keys = dict(LARGE["regression"])
        keys["epochs"] = max(12, math.ceil(REGRESSION_STEPS / math.ceil(rows / keys["batch_size"])))
    keys["label_smoothing"] = LABEL_SMOOTHING[task]
    if data is not None and (task != "binary" or rows < LARGE_ROWS) and has_numbers(data):
        keys["numeric_embedding"] = EMBEDDING
        keys["numeric_embedding_sigma"] = EMBEDDING_SIGMA[task]
    return keys


def has_numbers(data) -> bool:
    """Whether a table has numeric columns for an embedding to take."""
    from mlplab.models.embeddings import numeric_positions

    return bool(numeric_positions(data))
