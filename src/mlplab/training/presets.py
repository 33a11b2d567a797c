"""Settings presets: config keys that a kind of data starts from, unless the user sets them.

``TABLE`` is what ``mlplab train --data FILE`` and ``mlplab.train(Dataset.from_table(...))`` use, and
``BY_TASK`` what it adds once the table's task is known (``for_task``): like RealMLP-TD, whose defaults differ
between classification and regression, the network, its numeric embeddings, learning rate, batch and epochs
are the task's.

The recipe follows RealMLP-TD (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned
MLPs and Boosted Trees on Tabular Data": 3×256 hidden, ReLU, Adam, lr annealed, label smoothing 0.1 for
classification, dropout 0.15 for classification only) and Gorishniy et al. 2021 ("Revisiting Deep Learning
Models for Tabular Data": early stopping with patience 16 on the validation set, keeping the best epoch). For
regression, Gorishniy et al.'s periodic numeric embeddings stand in for RealMLP's (PBLD); RealMLP's parametric
activations, per-feature scaling layer and AdamW with β₂ = 0.95 are left out. The choices kept were measured on four real tables
(benchmarks/bench_tabular.py): robust scaling rather than standard (mlplab.data.columns), cosine decay.

Regression: periodic embeddings of the numeric columns (Gorishniy, Rubachev & Babenko 2022, "On Embeddings for
Numerical Features in Tabular Deep Learning", PLR: mlplab.models.embeddings) before a 2×128 MLP, no dropout,
batch 512, lr 2e-3, 20 epochs. Diamonds RMSE over 3 seeds (bench_tabular.py, one thread): $531 in 7.0 s, against
$549 in 19.7 s for 3×256 without embeddings (batch 512, lr 2e-3, 30 epochs) and $563 in 46 s for the
classification settings. Without embeddings a 2×128 net gave $578 and 1×512 $576; with them, 2×256 gave $530
in nearly twice the time, 15 epochs $535, σ = 0.1 $545, σ = 3 $560 (a plain torch loop, same splits).

Classification: dropout 0.15, batch 256, lr 5e-4, up to 100 epochs. Measured (2026-11-29, 3 seeds each,
``bench_tabular.py --set``; bank-full accuracy / ROC-AUC, titanic, penguins), none better on every table than
these (0.9029 / 0.9246, 0.832, 0.986 by autograd; 0.9041 / 0.9265, 0.823, 0.981 by hand, whose dropout masks
are another random stream): batch 512, lr 2e-3, 30 epochs: 0.9024 / 0.9231, 0.827, 0.981; the same
with dropout 0: 0.9039 / 0.9231, 0.819, 0.986; batch 256, lr 1e-3, 30 epochs: 0.9048 / 0.9250, 0.825, 0.990;
batch 512, lr 1e-3, 40 epochs: 0.9037 / 0.9237, 0.827, 0.995; lr 5e-4, 40 epochs: 0.9038 / 0.9256, 0.827,
0.903; one hidden layer of 512, dropout 0.15, batch 256, lr 1e-3, 30 epochs: 0.9059 / 0.9278, 0.812, 0.918
(small tables get too few steps); 2×128, dropout 0, batch 512, lr 2e-3, 20 epochs: 0.906 / 0.9235, 0.795,
0.855; one hidden layer of 512, dropout 0.15, batch 256, lr 1e-3, up to 100 epochs: 0.9049 / 0.9261 in half the
time (13.8 s against 24.9 s), 0.810, 0.995; validation 10 % of the rows instead of 15 %: 0.9047 / 0.9270,
0.816, 0.986. Periodic numeric embeddings (seed 0, plain loop): bank-full 0.9066 vs 0.9083, penguins 0.971 vs
0.986. Label smoothing 0 (bank-full): 0.9036 / 0.9263. Weight averaging (``ema``, mlplab.training.averaging) at
0.99 per step: in a plain torch loop (same splits, seeds 0-2) bank-full accuracy 0.9092 / 0.9045 / 0.9039 against
0.9064 / 0.9036 / 0.9031 without, but in mlplab (3 seeds) 0.9036 / 0.9269 on bank-full, titanic 0.806 (its few
steps per epoch make the average lag), penguins 0.990, diamonds $531: not a default. A decision threshold tuned
on the validation rows (bank-full, seeds 0-2): 0.9085 / 0.9012 / 0.9009 against 0.9092 / 0.9018 / 0.9014 at 0.5.
Three one-layer 512 nets averaged: 0.9049 / 0.9275 in 38-51 s against 0.9041 / 0.9265 in 26 s. Early stopping on val_roc_auc (bank-full, seed 0):
0.9081 / 0.9289 vs 0.9084 / 0.9280. Quantile scaling to a normal (bank-full, seed 0): 0.9051 / 0.9271 vs
robust 0.9095 / 0.9289. Training on log(price) (diamonds, seed 0): $571 vs $546.
"""

from __future__ import annotations

TABLE = {
    "activation": ("relu",),
    "optimizer": "adam",
    "weight_decay": 0.0,
    "schedule": "cosine",
    "early_stopping": 16,
    "monitor": "val_loss",
    "label_smoothing": 0.1,  # classification only: regression losses take none
}

CLASSIFICATION = {"hidden": (256, 256, 256), "dropout": (0.15,), "lr": 5e-4, "batch_size": 256, "epochs": 100}
BY_TASK = {
    "multiclass": CLASSIFICATION,
    "binary": CLASSIFICATION,
    "regression": {"hidden": (128, 128), "numeric_embedding": 16, "dropout": (0.0,), "lr": 2e-3, "batch_size": 512,
                   "epochs": 20},
}


def table_config(task: str | None = None, **overrides):
    """The TrainConfig for a table: ``TABLE`` and the task's keys (classification's until the task is known),
    then ``overrides``.

    >>> table_config("regression").batch_size, table_config("binary").batch_size
    (512, 256)
    """
    from mlplab.config import TrainConfig

    return TrainConfig().replace(**{**TABLE, **BY_TASK.get(task, CLASSIFICATION), **overrides})


def for_task(config, task: str, given=()):
    """``config`` with ``task``'s preset keys, except those the user set (``given``: key names)."""
    keys = {k: v for k, v in BY_TASK[task].items() if k not in set(given)}
    return config.replace(**keys)
