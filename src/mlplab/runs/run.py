"""A trained run: the model with what it was trained on and how, and what it can do afterwards.

``Run`` is what ``mlplab.train`` returns and what ``load_run(folder)`` gives back from any run folder:
``.model``, ``.config``, ``.history``, ``.metrics``, ``.schema`` (input shape, classes, the scaling learned
from the training rows), and ``predict`` / ``predict_proba`` / ``evaluate`` on raw rows, as scikit-learn's
estimators take them (``predict(x, names=True)``: the class names). In a notebook a Run shows itself in a few
lines, and ``plot_curves`` / ``plot_confusion`` / ``plot_predictions`` / ``plot_weights`` return matplotlib
Figures that show inline (mlplab.plots.display); the PNGs below are the same figures. ``save(folder)`` writes
the run folder::

    config.toml            the settings (feed back with --config)
    history.csv            per epoch: train/val/test loss and accuracy, seconds
    metrics.json           final metrics, the training path (backprop, memory_format, and why), early stopping
    model.safetensors      the weights
    data.json, preprocessing.safetensors   the Schema: what predict applies to raw rows
    learning_curves.png    (and predictions.png for image data)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.config import TrainConfig, dump_config, load_config
from mlplab.data.dataset import Dataset
from mlplab.data.schema import Schema
from mlplab.models.build import build_model
from mlplab.models.embeddings import numeric_positions
from mlplab.runs.rundir import (
    atomic_write,
    load_weights,
    not_a_run,
    save_weights,
    write_bytes,
    write_json,
    write_text,
)
from mlplab.runs.sealed import MANIFEST, CorruptFile, check_folder, manifest_bytes, seal, unseal
from mlplab.training.device import model_dtype
from mlplab.training.fit import resolve_device
from mlplab.training.history import History
from mlplab.training.losses import loss_for_task
from mlplab.training.step import MEMORY_FORMATS

PREDICT_BATCH = 8192


@dataclass
class Run:
    model: nn.Module
    config: TrainConfig
    history: History
    metrics: dict
    schema: Schema
    path: Path | None = None
    data: Dataset | None = field(default=None, repr=False)  # what it trained on (None for a loaded run)
    layer_rows: list | None = field(default=None, repr=False)  # inspect=True: per (epoch, layer) statistics

    @property
    def layers(self):
        """Per (epoch, layer) statistics of a run trained with ``inspect=True`` (mlplab.training.inspect): a pandas
        DataFrame, also read back from a run folder's layers.csv."""
        from mlplab.training.inspect import layers_frame

        return layers_frame(self.layer_rows, self.path)

    def plot_boundary(self, x=None, y=None, hidden: bool = True):
        """The decision boundary over 2-D inputs, the training points (or raw ``x`` with labels ``y``) and the
        first hidden layer's units' own boundaries, as a matplotlib Figure (mlplab.plots.boundary)."""
        from mlplab.plots.boundary import boundary_figure

        return boundary_figure(self, x, y, hidden=hidden)

    @torch.no_grad()
    def outputs(self, x) -> Tensor:
        """The model's raw outputs (N, C) for raw rows ``x``, in eval mode, without gradients."""
        inputs = self.schema.inputs(x)
        device = next(self.model.parameters()).device
        dtype = model_dtype(self.model)
        was_training = self.model.training
        self.model.eval()
        try:
            outs = [self.model(inputs[i:i + PREDICT_BATCH].to(device, dtype)).cpu()
                    for i in range(0, len(inputs), PREDICT_BATCH)]
        finally:
            self.model.train(was_training)
        return torch.cat(outs) if outs else torch.zeros(0, self.schema.output_size)

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities (N, C), columns in class order (binary: P(0), P(1))."""
        if self.schema.task == "regression":
            raise ValueError("predict_proba is for classification; this run is a regression: use predict")
        out = self.outputs(x).double()
        loss = loss_for_task(self.config.loss, self.schema.task)
        if self.schema.task == "binary":
            p = out[:, 0] if loss == "bce" else torch.sigmoid(out[:, 0])
            return torch.stack([1 - p, p], dim=1).numpy()
        return (out.exp() if loss == "nll" else torch.softmax(out, dim=1)).numpy()

    def predict(self, x, names: bool | None = None) -> np.ndarray:
        """Class labels, or regression values in target units.

        ``names``: None (default) gives the labels as training was given them (indices 0..C−1, or names, as
        scikit-learn does); True the class names (``schema.class_names``, e.g. Fashion-MNIST's "coat"); False
        the indices 0..C−1.
        """
        if self.schema.task == "regression":
            values = self.schema.target_units(self.outputs(x)).numpy()
            return values[:, 0] if values.shape[1] == 1 else values
        index = self.predict_proba(x).argmax(axis=1)
        if names is None:
            names = self.schema.labels == "name"
        if names and self.schema.class_names is None:
            raise ValueError("predict(names=True): this run's classes have no names; its labels are indices "
                             "0..C−1 (give class_names= to Dataset.from_arrays to name them)")
        return np.asarray(self.schema.class_names, dtype=object)[index] if names else index

    def evaluate(self, x, y) -> dict[str, float]:
        """Metrics on labelled raw rows: loss (cross entropy) and accuracy, or MSE/RMSE/MAE/R² in target units."""
        y = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if self.schema.task == "regression":
            pred = self.predict(x).reshape(len(y), -1)
            err = pred - y.reshape(len(y), -1).astype(np.float64)
            total = ((y.reshape(len(y), -1) - y.reshape(len(y), -1).mean(0)) ** 2).sum()
            mse = float((err ** 2).mean())
            return {"mse": mse, "rmse": mse ** 0.5, "mae": float(np.abs(err).mean()),
                    "r2": float(1 - (err ** 2).sum() / total) if total > 0 else float("nan")}
        index = self._class_index(y)
        p = self.predict_proba(x)
        picked = np.clip(p[np.arange(len(index)), index], 1e-12, 1.0)
        return {"loss": float(-np.log(picked).mean()), "accuracy": float((p.argmax(axis=1) == index).mean())}

    def _class_index(self, y: np.ndarray) -> np.ndarray:
        if self.schema.labels == "name":
            lookup = {name: i for i, name in enumerate(self.schema.class_names)}
            unseen = sorted({str(v) for v in y.tolist()} - set(lookup))
            if unseen:
                raise ValueError(f"labels {unseen[:5]} were never seen in training; classes: {list(lookup)}")
            return np.array([lookup[str(v)] for v in y.tolist()])
        y = y.reshape(-1)
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError("class labels must be whole numbers")
        index = y.astype(np.int64)
        n = 2 if self.schema.task == "binary" else self.schema.output_size
        if len(index) and (index.min() < 0 or index.max() >= n):
            raise ValueError(f"labels must be class indices 0..{n - 1} as in training; found {index.min()}..{index.max()}")
        return index

    def title(self) -> str:
        """What trained on what: ``digits: torch mlp 256 relu, sgd lr=0.1``, ``fashion-mnist: torch cnn conv 32-64
        fc 128, adam lr=0.001``."""
        c = self.config
        if c.model == "module":
            what = c.module.rpartition(":")[2]
        elif c.model in ("cnn", "lenet"):  # its layers' widths: "cnn conv 32-64 fc 128"
            from mlplab.models.cnn import PRESETS

            items = PRESETS.get(c.spec or c.model, c.spec or c.model).split(",")
            widths = {kind: "-".join(i.split(":")[1] for i in items if i.startswith(f"{kind}:"))
                      for kind in ("conv", "fc")}
            what = " ".join([c.model] + [f"{kind} {w}" for kind, w in widths.items() if w])
        else:
            what = f"{c.model} {'-'.join(map(str, c.hidden))} {','.join(c.activation)}"
            if c.model == "mlp" and tuple(c.init) != ("default",):
                what += f" init {','.join(c.init)}"
        return f"{self.schema.name}: {c.impl} {what}, {c.optimizer} lr={c.lr}"

    def __repr__(self) -> str:  # a few lines, not the model and every tensor
        from mlplab.plots.display import run_text

        return run_text(self)

    def _repr_html_(self) -> str:
        from mlplab.plots.display import run_html

        return run_html(self)

    def plot_curves(self):
        """Loss (and accuracy) per epoch as a matplotlib Figure (shows inline in a notebook); learning_curves.png."""
        from mlplab.plots import display

        return display.curves(self)

    def plot_confusion(self, x=None, y=None):
        """The confusion matrix by class name of raw rows ``x`` with labels ``y`` (default: the run's own test
        rows, when it has them) as a matplotlib Figure."""
        from mlplab.plots import display

        return display.confusion(self, x, y)

    def plot_predictions(self, x=None, y=None, n: int = 18):
        """The first ``n`` images of ``x`` (default: the run's test images) titled true / predicted by class
        name, mistakes in red, as a matplotlib Figure; predictions.png."""
        from mlplab.plots import display

        return display.predictions(self, x, y, n)

    def plot_weights(self, n: int = 16):
        """What the weights look like: a CNN's first kernels, an image MLP's first ``n`` units as images, else
        each layer's weight histogram, as a matplotlib Figure."""
        from mlplab.plots import display

        return display.weights(self, n)

    def save(self, folder: str | Path) -> Path:
        """Write the run folder (see the module docstring); ``load_run(folder)`` gives this Run back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / "config.toml", dump_config(self.config))
        write_outputs(folder, self)
        self.path = folder
        return folder


def history_csv(path: Path, history: History) -> None:
    atomic_write(path / "history.csv", history.to_csv)


def write_outputs(path: Path, run: Run, *, draw: bool = True) -> None:
    """history.csv, metrics.json, model.safetensors, the Schema and the plots (``figure_jobs``'s here unless
    ``draw`` is False: a table run's report worker draws them while this writes the rest)."""
    history_csv(path, run.history)
    write_json(path / "metrics.json", run.metrics)
    save_weights(run.model, path / "model.safetensors", metadata={"config": json.dumps(run.config.to_dict())})
    meta, tensors = run.schema.to_files()
    write_json(path / "data.json", meta)
    write_bytes(path / "preprocessing.safetensors", seal(tensors, {"format": "mlplab-schema-1"}))
    write_bytes(path / MANIFEST, manifest_bytes(path))  # last: the files load_run reads, sealed as one whole
    if draw:
        from mlplab.plots import figures

        figures.draw(figure_jobs(path, run))
    data = run.data
    if data is not None and data.image_shape and data.class_names and data.x_test is not None:
        from mlplab.plots import figures

        figures.save(run.plot_predictions(), path / "predictions.png")


def figure_jobs(path: Path, run: Run) -> list[tuple[str, tuple, Path]]:
    """The run folder's figures that need no model, as ``(mlplab.plots.figures function, its arguments, file)``:
    the learning curves, and a table's confusion matrix of its test rows (what run.plot_curves and
    run.plot_confusion show in a notebook)."""
    jobs = [("curves_figure", (run.history, run.title()), path / "learning_curves.png")]
    m = run.metrics.get("test") if run.data is not None and run.data.columns is not None else None
    if m is not None and "confusion_matrix" in m:
        jobs.append(("confusion_figure", (m["confusion_matrix"], m["classes"], f"{run.schema.name}: test rows"),
                     path / "confusion.png"))
    return jobs


def final_metrics(history: History, model: nn.Module, config: TrainConfig) -> dict:
    """The numbers of the epoch whose weights the model ends with, plus what a reader needs to compare runs."""
    metrics = {k: v for k, v in history.final.items() if k != "seconds"}
    metrics["train_seconds"] = sum(history.column("seconds"))
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    metrics["device"] = str(resolve_device(config.device))
    metrics["backprop"], metrics["backprop_reason"] = history.backprop, history.backprop_reason
    metrics["memory_format"], metrics["memory_format_reason"] = history.memory_format, history.memory_format_reason
    if config.early_stopping is not None:
        metrics["early_stopping"] = {"monitor": config.monitor, "patience": config.early_stopping,
                                     "best_epoch": history.best_epoch, "stopped_epoch": history.stopped_epoch,
                                     "epochs_run": len(history.rows)}
    return metrics


def load_run(folder: str | Path, model: nn.Module | None = None) -> Run:
    """The Run saved in ``folder`` (by ``Run.save`` or ``mlplab train``): model with its weights, config,
    history, metrics and the Schema that ``predict`` applies to raw rows.

    Folders written before the Schema was saved get it rebuilt from their dataset (bundled sets only).
    A run of your own module rebuilds its class from the import path it recorded (``Class()``); ``model``:
    pass it built instead (a class that takes arguments, or one that cannot be imported here).
    """
    folder = Path(folder)
    if not (folder / "config.toml").is_file():
        raise not_a_run(folder, "pass a folder written by mlplab train or Run.save")
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors: the run did not finish; "
                                f"continue it with: mlplab train --resume {folder}")
    try:
        check_folder(folder)  # every file as it was written, before any is parsed
    except CorruptFile as e:
        raise ValueError(str(e)) from None
    config = load_config(folder / "config.toml")
    schema = read_schema(folder, config)
    if model is not None and config.model != "module":
        raise ValueError(f"{folder} trained mlplab's {config.model!r} model, which it rebuilds itself; drop model=")
    if model is None:
        model = build_model(config, schema.input_shape, schema.task, schema.output_size,
                            numeric=numeric_positions(schema))
    try:
        load_weights(model, weights, config=config)
    except RuntimeError as e:
        raise ValueError(f"{weights} does not fit the model in {folder / 'config.toml'}: "
                         f"{str(e).splitlines()[0]}") from None
    history = History.from_csv(folder / "history.csv") if (folder / "history.csv").is_file() else History()
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    if metrics.get("memory_format") in MEMORY_FORMATS:  # the layout it trained in: it predicts as it did then
        model.to(memory_format=MEMORY_FORMATS[metrics["memory_format"]])
    history.backprop, history.backprop_reason = metrics.get("backprop"), metrics.get("backprop_reason")
    history.memory_format = metrics.get("memory_format")
    history.memory_format_reason = metrics.get("memory_format_reason")
    stopping = metrics.get("early_stopping") or {}
    history.best_epoch, history.stopped_epoch = stopping.get("best_epoch"), stopping.get("stopped_epoch")
    return Run(model, config, history, metrics, schema, folder)


def read_schema(folder: Path, config: TrainConfig) -> Schema:
    if (folder / "data.json").is_file():
        meta = json.loads((folder / "data.json").read_text())
        pre = folder / "preprocessing.safetensors"
        try:
            tensors = unseal(pre)[0] if pre.is_file() else {}
        except CorruptFile as e:
            raise ValueError(f"{e}; the run's input scaling cannot be trusted: retrain the run") from None
        return Schema.from_files(meta, tensors)
    from mlplab.data.load import DATASETS, load_dataset

    if config.dataset not in DATASETS:
        raise FileNotFoundError(f"{folder} has no data.json, and its dataset {config.dataset!r} is not one "
                                "mlplab can reload; the run folder is incomplete")
    data = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed, val_fraction=config.val_fraction)
    return Schema.of(data)
