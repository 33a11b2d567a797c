"""Settings presets: config keys that a kind of data starts from, unless the user sets them.

``TABLE`` is what ``mlplab train --data FILE`` and ``mlplab.train(Dataset.from_table(...))`` use, and
``table_keys`` what it adds once the table is read (``for_task``): the network, its numeric embeddings, learning
rate, batch, epochs and patience depend on the task (like RealMLP-TD, whose defaults differ between
classification and regression) and on the number of training rows. A small table needs small batches and
many epochs to take enough steps; a large one takes enough in a few epochs of large batches, which is what
makes it fast.

The recipe follows RealMLP-TD (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned
MLPs and Boosted Trees on Tabular Data": 3×256 hidden, ReLU, Adam, lr annealed, label smoothing 0.1 for
classification, dropout 0.15 for classification only) and Gorishniy et al. 2021 ("Revisiting Deep Learning
Models for Tabular Data": early stopping on the validation set, keeping the best epoch). For large regression
tables, Gorishniy et al.'s periodic numeric embeddings stand in for RealMLP's (PBLD); RealMLP's parametric
activations, per-feature scaling layer and AdamW with β₂ = 0.95 are left out. The choices kept were measured on
real tables (benchmarks/bench_tabular.py, one thread): robust scaling rather than standard
(mlplab.data.columns), cosine decay.

Small tables (under ``LARGE_ROWS`` training rows): 3×256, batch 256, lr 5e-4, up to 100 epochs, patience 16;
dropout 0.15 for classification, none for regression. Titanic 0.823 accuracy, penguins 0.981 (3 seeds). As
regression targets (5 seeds; HGB / scikit-learn's MLP in brackets) penguins' body mass: $302 ($314 / $303) and
titanic's age: 10.61 years (10.93 / 10.63), where the large regression keys give $379 and 11.60: 20 epochs of
one or two batches are too few steps.

Large classification (bank-full, 29k training rows, 5 seeds): one hidden layer of 256, no dropout, batch 512,
lr 2e-3, up to 40 epochs, the epoch of the best validation accuracy kept (as RealMLP-TD keeps the best
validation error; on a large table accuracy is fine-grained enough to choose by), patience 16: accuracy /
ROC-AUC 0.9078 / 0.9274 in 3.4 s, against 0.9041 / 0.9265 in 26 s for the small keys (3 seeds) and scikit-learn's
MLP's 0.9073 / 0.9269 (5 seeds; HGB 0.9073 / 0.9344 in 1.4 s). Measured alike, all within one or two standard
errors of each other: the validation loss with patience 8 0.9065 / 0.9272 in 2.6 s, accuracy with patience 8
0.9065 / 0.9259; with the validation loss and patience 8: dropout 0.15 0.9074 / 0.9279 in 5.3 s, dropout 0.05
0.9067 / 0.9283 in 5.1 s, weight decay 1e-5 0.9069 / 0.9285, 1e-4 0.9052 / 0.9264, label smoothing 0.05
0.9071 / 0.9284; one layer of 128, lr 3e-3, up to 30 epochs: 0.9065 / 0.9258 in 1.9 s; of 512: 0.9065 / 0.9274
in 4.3 s; 2×256, dropout 0.15, lr 1e-3: 0.9063 / 0.9259 in 9.9 s; batch 1024, lr 3e-3, dropout 0.15: 0.9068 /
0.9277 in 4.8 s; 1×128 with dropout 0.15: 0.9060 / 0.9261.

Large regression (diamonds, 35k training rows, 5 seeds): periodic embeddings of the numeric columns
(Gorishniy, Rubachev & Babenko 2022, "On Embeddings for Numerical Features in Tabular Deep Learning", PLR:
mlplab.models.embeddings) before a 2×64 MLP, no dropout, batch 1024, lr 6e-3, epochs for about
``REGRESSION_STEPS`` steps (12 on diamonds): $547.9 in 2.5 s (HGB $546 in 1.0 s). Also measured: 2×96 at lr
4e-3 $548.0 in 3.0 s (the timings of one sweep vary by ±15 %), 2×64 at lr 4e-3 $560.6, at lr 8e-3 $546.5; the
previous preset (2×128, batch 512, lr 2e-3, 20 epochs) $531 in 7.0 s, its 8 epochs $555 in 3.1 s; 2×128 at
batch 1024, 10 epochs $552, 8 epochs $563; k = 8 frequencies $558, k = 12 $553; 2×96 for 10 epochs $557. On
25,300 rows of diamonds (16.4k training rows, 3 seeds) 12 epochs of batch 1024 (2×96) gave $615 with 16 steps
an epoch: hence epochs from a number of steps, 25 there: 2×96 $566, 2×64 at lr 6e-3 $557 and at 8e-3 $556 (HGB
$558; the small keys $578 in 17 s). Earlier (3 seeds): 3×256 without embeddings (batch 512, lr 2e-3, 30 epochs)
$549 in 19.7 s; without embeddings 2×128 gave $578 and 1×512 $576; with them 2×256 $530 in twice the time,
σ = 0.1 $545, σ = 3 $560.

Tried on the small classification keys before the size split (3 seeds; bank-full accuracy / ROC-AUC,
titanic, penguins; the keys gave 0.9041 / 0.9265, 0.823, 0.981): batch 512, lr 2e-3, 30 epochs: 0.9024 /
0.9231, 0.827, 0.981; batch 256, lr 1e-3, 30 epochs: 0.9048 / 0.9250, 0.825, 0.990; 2×128, dropout 0, batch
512, lr 2e-3, 20 epochs: 0.906 / 0.9235, 0.795, 0.855 (small tables get too few steps); validation 10 % of the
rows instead of 15 %: 0.9047 / 0.9270, 0.816, 0.986. Periodic numeric embeddings (seed 0, plain loop):
bank-full 0.9066 vs 0.9083, penguins 0.971 vs 0.986. Label smoothing 0 (bank-full): 0.9036 / 0.9263. Weight
averaging (``ema`` 0.99, mlplab.training.averaging): bank-full 0.9036 / 0.9269, titanic 0.806 (its few steps
per epoch make the average lag), penguins 0.990, diamonds $531 (against $531): not a default. A decision
threshold tuned on the validation rows (bank-full, seeds 0-2): 0.9085 / 0.9012 / 0.9009 against 0.9092 / 0.9018
/ 0.9014 at 0.5. Three one-layer 512 nets averaged: 0.9049 / 0.9275 in 38-51 s. Early stopping on val_roc_auc
(bank-full, seed 0): 0.9081 / 0.9289 vs 0.9084 / 0.9280. Quantile scaling to a normal (bank-full, seed 0):
0.9051 / 0.9271 vs robust 0.9095 / 0.9289. Training on log(price) (diamonds, seed 0): $571 vs $546.
"""

from __future__ import annotations

import math

TABLE = {
    "activation": ("relu",),
    "optimizer": "adam",
    "weight_decay": 0.0,
    "schedule": "cosine",
    "monitor": "val_loss",
    "label_smoothing": 0.1,  # classification only: regression losses take none
}

LARGE_ROWS = 16_384  # training rows from which a table takes the large-table keys: 32 batches of 512 an epoch
SMALL = {"hidden": (256, 256, 256), "lr": 5e-4, "batch_size": 256, "epochs": 100, "early_stopping": 16}
LARGE = {
    "classification": {"hidden": (256,), "dropout": (0.0,), "lr": 2e-3, "batch_size": 512, "epochs": 40,
                       "early_stopping": 16, "monitor": "val_accuracy"},
    "regression": {"numeric_embedding": 16, "hidden": (64, 64), "dropout": (0.0,), "lr": 6e-3, "batch_size": 1024,
                   "early_stopping": 16},
}
REGRESSION_STEPS = 420  # a large regression table's epochs: at least 12, and enough for about this many steps


def table_keys(data=None) -> dict:
    """The preset keys of a table Dataset ``data``: by its task and its number of training rows (``SMALL`` or
    ``LARGE``); the small classification keys when ``data`` is None (the table is not read yet).

    >>> table_keys()["hidden"], table_keys()["dropout"]
    ((256, 256, 256), (0.15,))
    """
    task = "multiclass" if data is None else data.task
    rows = 0 if data is None else len(data.x_train)
    if rows < LARGE_ROWS:
        return {**SMALL, "dropout": (0.0,) if task == "regression" else (0.15,)}
    if task != "regression":
        return dict(LARGE["classification"])
    from mlplab.models.embeddings import numeric_positions

    keys = dict(LARGE["regression"])
    keys["epochs"] = max(12, math.ceil(REGRESSION_STEPS / math.ceil(rows / keys["batch_size"])))
    if not numeric_positions(data):  # categorical columns only: nothing to embed
        del keys["numeric_embedding"]
    return keys


def table_config(data=None, **overrides):
    """The TrainConfig for a table Dataset ``data``: ``TABLE`` and its ``table_keys``, then ``overrides``.

    >>> table_config().batch_size, table_config(lr=0.1).lr
    (256, 0.1)
    """
    from mlplab.config import TrainConfig

    return TrainConfig().replace(**{**TABLE, **table_keys(data), **overrides})


def for_task(config, data, given=()):
    """``config`` with the preset keys of the table ``data`` (``table_keys``), except those the user set
    (``given``: key names)."""
    keys = {k: v for k, v in table_keys(data).items() if k not in set(given)}
    return config.replace(**keys)
