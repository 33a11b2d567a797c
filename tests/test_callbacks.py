"""Callbacks by event and early stopping: it stops when it should, restores the best epoch's weights, and says
so in the history, metrics.json and the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import mlplab
from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.callbacks import Callback, EarlyStopping, higher_is_better
from mlplab.training.fit import fit


@pytest.fixture(scope="module")
def noisy():
    """Few rows, many noise features: the validation loss turns up after a few epochs (overfitting)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 40))
    y = ((x[:, 0] + 0.8 * rng.normal(size=160)) > 0).astype(int) + 0
    return mlplab.Dataset.from_arrays(x, y, task="multiclass", val_fraction=0.3)


class Snapshots(Callback):
    """Keeps every epoch's weights, to compare with what early stopping restores."""

    def __init__(self):
        self.weights, self.events = {}, []

    def on_train_begin(self, history, model, opt):
        self.events.append("begin")

    def on_epoch_end(self, epoch, history, model, opt):
        self.weights[epoch] = [p.detach().clone() for p in model.parameters()]

    def on_train_end(self, history, model):
        self.events.append("end")


def test_early_stopping_stops_and_restores_the_best_epoch(noisy):
    snaps = Snapshots()
    model = MLP(40, [128], 2, seed=0)
    history = fit(model, noisy, optimizer="adam", lr=0.01, epochs=200, batch_size=16, early_stopping=3,
                  callbacks=[snaps])
    losses = history.column("val_loss")
    best = int(np.argmin(losses)) + 1
    assert len(history.rows) == best + 3 < 200                 # stopped 3 epochs after the best
    assert history.best_epoch == best and history.stopped_epoch == best + 3
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), snaps.weights[best]))
    assert history.final["epoch"] == best and history.final["val_loss"] == min(losses)
    assert snaps.events == ["begin", "end"]


def test_accuracy_improves_upwards_and_min_delta_counts():
    assert higher_is_better("val_accuracy") and not higher_is_better("val_loss")
    stopper = EarlyStopping(2, monitor="val_accuracy", min_delta=0.05)
    seen = [stopper._see(e, v) for e, v in enumerate([0.5, 0.52, 0.6, 0.61], start=1)]
    assert seen == [True, False, True, False] and stopper.best_epoch == 3


def test_a_callback_returning_true_stops_training(noisy):
    history = fit(MLP(40, [8], 2), noisy, epochs=50, callbacks=[lambda epoch, h, m, o: epoch == 4])
    assert len(history.rows) == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(early_stopping=3, monitor="val_accuracy"), "does not record"),
    (dict(early_stopping=3, monitor="test_loss"), "would choose the model by the test set"),
    (dict(early_stopping=0), "must be >= 1"),
])
def test_monitor_errors_are_one_clear_line(kwargs, message):
    data = load_dataset("diabetes")   # regression: no accuracy column
    with pytest.raises(ValueError, match=message):
        fit(MLP(10, [8], 1), data, epochs=2, **kwargs)


def test_without_validation_split_val_loss_cannot_be_monitored():
    data = load_dataset("iris", val_fraction=0.0)
    with pytest.raises(ValueError, match="hold out a validation split"):
        fit(MLP(4, [8], 3), data, epochs=2, early_stopping=2)


def test_cli_early_stop_reports_the_epochs_in_metrics_json(cli, tmp_path):
    r = cli("train", "--dataset", "breast-cancer", "--epochs", "300", "--optimizer", "adam", "--lr", "0.01",
            "--early-stop", "3", "--out", str(tmp_path), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1].split("run folder: ")[1])
    metrics = json.loads((folder / "metrics.json").read_text())
    stop = metrics["early_stopping"]
    assert stop["monitor"] == "val_loss" and stop["patience"] == 3
    assert stop["stopped_epoch"] == stop["epochs_run"] == stop["best_epoch"] + 3 < 300
    assert metrics["epoch"] == stop["best_epoch"]
    assert f"stopped after epoch {stop['stopped_epoch']}" in r.stdout
