"""One training run from a TrainConfig: load data, build the model, fit, and fill the run folder."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from mlplab.plots import figures as plots
from mlplab.runs.checkpoint import Checkpointer, check_resume, restore_rng
from mlplab.config import TrainConfig, dump_config
from mlplab.data.load import Dataset, load_dataset
from mlplab.runs.failures import Interrupted, out_of_memory_hint
from mlplab.training.fit import History, NonFiniteLoss, fit, resolve_device
from mlplab.training.losses import OUTPUT_ACTIVATION, loss_for_task
from mlplab.training.progress import EpochProgress
from mlplab.runs.rundir import (new_run_dir, remove_run_dir, remove_stale_temporaries, save_weights, write_json, write_text)


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
        from mlplab.scratch.mlp import MLP
    else:
        from mlplab.models.mlp import MLP
    loss = loss_for_task(config.loss, task)
    with out_of_memory_hint(config, model_only=True):
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


def build_optimizer(config: TrainConfig, model: nn.Module):
    """The optimizer the config describes over ``model``'s parameters (torch's or scratch), as fit builds it."""
    if config.impl == "scratch":
        from mlplab.scratch import optim as optim_mod
    else:
        from mlplab.training import optim as optim_mod
    return optim_mod.make_optimizer(config.optimizer, model, lr=config.lr, weight_decay=config.weight_decay,
                                    registry=optim_mod.OPTIMIZERS, **config.optimizer_args())


def train(config: TrainConfig, *, progress: str = "auto", write: bool = True,
          resume: str | Path | None = None) -> Run:
    """Train as ``config`` says. With ``write``, fill a new run folder under ``config.out``.

    ``progress`` is ``auto`` (a bar in a terminal, else a line per epoch), ``bar``, ``lines`` or ``quiet``.
    Everything that can fail on user input (names, data files, the output folder) fails before any file is
    written. Every epoch ends with a checkpoint; ``resume`` (a run folder) continues that run where its last
    checkpoint stopped, in the same folder, exactly as if it had never stopped (see mlplab.runs.checkpoint).
    """
    checkpoint = check_resume(resume, config) if resume is not None else None
    data = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed,
                        val_fraction=config.val_fraction)
    model = build_model(config, data.input_shape, data.task, data.output_size)
    history = None
    if checkpoint is not None:
        model.load_state_dict(checkpoint.model)
    opt = build_optimizer(config, model.to(resolve_device(config.device)))  # one path, fresh or resumed
    if checkpoint is not None:
        opt.load_state_dict(checkpoint.optimizer)
        history = checkpoint.history
        restore_rng(checkpoint.rng)
    path = None
    if write:  # under torchrun only rank 0 writes; every rank resumes from the same checkpoint
        path = Path(resume) if resume is not None else new_run_dir(config.out, config.dataset)
    callbacks = []
    if path is not None:
        remove_stale_temporaries(path)
        write_text(path / "config.toml", dump_config(config))
        saver = Checkpointer(path, config, checkpoint.epoch if checkpoint else 0)
        callbacks += [saver, lambda epoch, history, model, opt: history_csv(path, history)]
    reporter = None
    if progress != "quiet":
        reporter = EpochProgress(config.epochs, mode=progress)
        callbacks.append(reporter)
        reporter.start(len(history.rows) if history else 0)
    try:
        with out_of_memory_hint(config):
            history = fit(model, data, optimizer=config.optimizer, lr=config.lr, loss=config.loss,
                          epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                          device=config.device, weight_decay=config.weight_decay,
                          optimizer_args=config.optimizer_args(), impl=config.impl, callbacks=callbacks,
                          history=history, opt=opt, schedule=config.schedule, augment=config.augment,
                          compile=config.compile, amp=config.amp, backprop=config.backprop)
    except KeyboardInterrupt:
        if path is None:
            raise
        raise Interrupted(f"interrupted; {path} keeps epoch {saver.epoch} of {config.epochs}; continue with: "
                          f"mlplab train --resume {path}") from None
    except (ValueError, TypeError, OSError, NonFiniteLoss) as e:
        if path is not None and saver.epoch == 0 and resume is None:
            remove_run_dir(path)  # a bad input met in the first epoch leaves nothing behind
        elif path is not None:
            note = f"{path} keeps the last good checkpoint (epoch {saver.epoch})"
            if not isinstance(e, NonFiniteLoss):  # resuming a diverged run would diverge again
                note += f"; once fixed, continue with: mlplab train --resume {path}"
            plain = type(e) in (ValueError, TypeError, NonFiniteLoss) or isinstance(e, OSError)
            raise (type(e) if plain else ValueError)(f"{e}; {note}") from None
        raise
    finally:
        if reporter is not None:
            reporter.stop()
    metrics = final_metrics(history, model, config)
    if path is not None:
        write_outputs(path, config, history, metrics, model, data)
    return Run(path, config, history, metrics, model, data)


def history_csv(path: Path, history: History) -> None:
    from mlplab.runs.rundir import atomic_write

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
    if data.image_shape and data.class_names:
        plots.gallery(model, data.x_test, data.y_test, data.class_names, path / "predictions.png",
                      image_shape=data.image_shape, show=data.unstandardize)
