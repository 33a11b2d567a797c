"""Settings presets: config keys that a kind of data starts from, unless the user sets them.

``TABLE`` is what ``mlplab train --data FILE`` and ``mlplab.train(Dataset.from_table(...))`` use, and
``BY_TASK`` what it adds once the table's task is known (``for_task``): like RealMLP-TD, whose defaults differ
between classification and regression, the network, learning rate, batch and epochs are the task's.

The recipe follows RealMLP-TD (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned
MLPs and Boosted Trees on Tabular Data": 3×256 hidden, ReLU, Adam, lr annealed, label smoothing 0.1 for
classification, dropout 0.15 for classification only) and Gorishniy et al. 2021 ("Revisiting Deep Learning
Models for Tabular Data": early stopping with patience 16 on the validation set, keeping the best epoch). What
mlplab lacks from RealMLP (its numeric embeddings, parametric activations, per-feature scaling layer, AdamW
with β₂ = 0.95) it leaves out. The choices kept were measured on four real tables
(benchmarks/bench_tabular.py): robust scaling rather than standard (mlplab.data.columns), cosine decay.

Regression: dropout 0, batch 512, lr 2e-3, 30 epochs. Diamonds RMSE over 3 seeds $549 in 17 s of one thread,
against $563 in 46 s for the classification settings below (and $544 vs $558 at seed 0 in the first sweep;
dropout 0 alone: $552/$557 vs $558/$564 at seeds 0-1).

Classification: dropout 0.15, batch 256, lr 5e-4, up to 100 epochs. Measured (2026-11-29, 3 seeds each,
``bench_tabular.py --set``; bank-full accuracy / ROC-AUC, titanic, penguins), none better on every table than
these (0.9029 / 0.9246, 0.832, 0.986): batch 512, lr 2e-3, 30 epochs: 0.9024 / 0.9231, 0.827, 0.981; the same
with dropout 0: 0.9039 / 0.9231, 0.819, 0.986; batch 256, lr 1e-3, 30 epochs: 0.9048 / 0.9250, 0.825, 0.990;
batch 512, lr 1e-3, 40 epochs: 0.9037 / 0.9237, 0.827, 0.995; lr 5e-4, 40 epochs: 0.9038 / 0.9256, 0.827,
0.903; one hidden layer of 512, dropout 0.15, batch 256, lr 1e-3, 30 epochs: 0.9059 / 0.9278, 0.812, 0.918
(small tables get too few steps); 2×128, dropout 0, batch 512, lr 2e-3, 20 epochs: 0.906 / 0.9235, 0.795,
0.855. Label smoothing 0 (bank-full): 0.9036 / 0.9263. Early stopping on val_roc_auc (bank-full, seed 0):
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
    "regression": {"hidden": (256, 256, 256), "dropout": (0.0,), "lr": 2e-3, "batch_size": 512, "epochs": 30},
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
