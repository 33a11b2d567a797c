"""Settings presets: config keys that a kind of data starts from, unless the user sets them.

``TABLE`` is what ``mlplab train --data FILE`` and ``mlplab.train(Dataset.from_table(...))`` use. It follows
RealMLP-TD (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted
Trees on Tabular Data": 3×256 hidden, dropout 0.15, Adam, lr annealed, batch 256, label smoothing 0.1)
and Gorishniy et al. 2021 ("Revisiting Deep Learning Models for Tabular Data": early stopping with patience
16 on the validation set, keeping the best epoch). What mlplab lacks from RealMLP (its numeric embeddings,
parametric activations, per-feature scaling layer, AdamW with β₂ = 0.95) it leaves out; the choices kept were
measured on four real tables (benchmarks/bench_tabular.py, seed 0): lr 5e-4 rather than RealMLP's 2e-3
(bank-full ROC-AUC 0.9280 vs 0.9215, titanic accuracy 0.827 vs 0.810, penguins 0.986 vs 0.971; diamonds RMSE
$558 vs $550), robust scaling rather than standard (mlplab.data.columns), cosine decay over 100 epochs.
Dropout 0 measured better for regression (diamonds $552/$557 vs $558/$564, seeds 0-1) and worse for
classification (titanic accuracy 0.819 vs 0.832, 3 seeds): a per-task preset is the next step.

Also measured (2026-11-29, 3 seeds each, ``bench_tabular.py --set``), none better on every table than this
preset (diamonds RMSE $563, bank-full accuracy 0.9029 / ROC-AUC 0.9246, titanic 0.832, penguins 0.986):
batch 512, lr 2e-3, 30 epochs: $554, 0.9024 / 0.9231, 0.827, 0.981 (30 epochs, 512 and 2e-3 but dropout 0:
$544 at seed 0); batch 256, lr 1e-3, 30 epochs: $561, 0.9048 / 0.9250, 0.825, 0.990; batch 512, lr 1e-3, 40
epochs: $561, 0.9037 / 0.9237, 0.827, 0.995; lr 5e-4, 40 epochs: $569, 0.9038 / 0.9256, 0.827, 0.903; label
smoothing 0 (bank-full): 0.9036 / 0.9263. Early stopping on val_roc_auc (bank-full, seed 0): 0.9081 / 0.9289
vs 0.9084 / 0.9280. Quantile scaling to a normal (bank-full, seed 0): 0.9051 / 0.9271 vs robust 0.9095 / 0.9289.
"""

from __future__ import annotations

TABLE = {
    "hidden": (256, 256, 256),
    "activation": ("relu",),
    "dropout": (0.15,),
    "optimizer": "adam",
    "lr": 5e-4,
    "weight_decay": 0.0,
    "schedule": "cosine",
    "batch_size": 256,
    "epochs": 100,
    "early_stopping": 16,
    "monitor": "val_loss",
    "label_smoothing": 0.1,
}


def table_config(**overrides):
    """The TrainConfig for a table: ``TABLE``, then ``overrides``."""
    from mlplab.config import TrainConfig

    return TrainConfig().replace(**{**TABLE, **overrides})
