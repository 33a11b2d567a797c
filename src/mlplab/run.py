"""One training run from a TrainConfig: load data, build the model, fit, and fill the run folder."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from . import plots
from .config import TrainConfig, dump_config
from .data import Dataset, load_dataset
from .fit import History, fit, resolve_device
from .losses import OUTPUT_ACTIVATION, loss_for_task
from .progress import EpochProgress
from .rundir import new_run_dir, save_weights, write_json, write_text


@dataclass
class Run:
    path: Path | None
    config: TrainConfig
    history: History
    metrics: dict
    model: nn.Module
    data: Dataset


def build_model(config: TrainConfig, input_shape: tuple[int, ...], task: str, output_size: int) -> nn.Module:
    """The MLP the config describes, torch.nn or scratch, with the output layer its loss expects."""
    if config.impl == "scratch":
        from .scratch.model import MLP
    else:
        from .model import MLP
    loss = loss_for_task(config.loss, task)
    return MLP(math.prod(input_shape), list(config.hidden), output_size, activation=list(config.activation),
               dropout=list(config.dropout), init=list(config.init), bias=config.bias,
               output=OUTPUT_ACTIVATION.get(loss), seed=config.seed)


def final_metrics(history: History, model: nn.Module, config: TrainConfig) -> dict:
    """The last epoch's numbers plus what a reader needs to compare runs."""
    last = history.final
    metrics = {k: v for k, v in last.items() if k != "seconds"}
    metrics["train_seconds"] = sum(history.column("seconds"))
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    metrics["device"] = str(resolve_device(config.device))
    return metrics


def train(config: TrainConfig, *, progress: str = "auto", write: bool = True) -> Run:
    """Train as ``config`` says. With ``write``, fill a new run folder under ``config.out``.

    ``progress`` is ``auto`` (a bar in a terminal, else a line per epoch), ``bar``, ``lines`` or ``quiet``.
    Everything that can fail on user input (names, data files, the output folder) fails before any file is
    written.
    """
    data = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed,
                        val_fraction=config.val_fraction)
    model = build_model(config, data.input_shape, data.task, data.output_size)
    resolve_device(config.device)
    path = new_run_dir(config.out, config.dataset) if write else None
    callbacks = []
    if path is not None:
        write_text(path / "config.toml", dump_config(config))
        callbacks.append(lambda epoch, history, model, opt: history_csv(path, history))
    reporter = None
    if progress != "quiet":
        reporter = EpochProgress(config.epochs, mode=progress)
        callbacks.append(reporter)
        reporter.start()
    try:
        history = fit(model, data, optimizer=config.optimizer, lr=config.lr, loss=config.loss,
                      epochs=config.epochs, batch_size=config.batch_size, seed=config.seed, device=config.device,
                      weight_decay=config.weight_decay, optimizer_args=config.optimizer_args(),
                      impl=config.impl, callbacks=callbacks)
    finally:
        if reporter is not None:
            reporter.stop()
    metrics = final_metrics(history, model, config)
    if path is not None:
        write_outputs(path, config, history, metrics, model, data)
    return Run(path, config, history, metrics, model, data)


def history_csv(path: Path, history: History) -> None:
    from .rundir import atomic_write

    atomic_write(path / "history.csv", history.to_csv)


def write_outputs(path: Path, config: TrainConfig, history: History, metrics: dict, model: nn.Module,
                  data: Dataset) -> None:
    """metrics.json, model.safetensors and the plots."""
    history_csv(path, history)
    write_json(path / "metrics.json", metrics)
    save_weights(model, path / "model.safetensors", metadata={"config": json.dumps(config.to_dict())})
    plots.learning_curves(history, path / "learning_curves.png",
                          title=f"{config.dataset}: {'-'.join(map(str, config.hidden))} {config.optimizer} "
                                f"lr={config.lr}")
    if len(data.input_shape) == 2 and data.class_names:
        plots.gallery(model, data.x_test, data.y_test, data.class_names, path / "predictions.png")
