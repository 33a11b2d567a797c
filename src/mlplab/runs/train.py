"""``train(data, **keys)``: one run, from data to a trained ``Run`` (and, when asked, its run folder).

One road for every run (the CLI, ``mlplab.train``, compare members, cv folds): ``prepare`` resolves the settings
(mlplab.settings), reads the data, builds the model and its optimizer and runs every check that can fail on
user input, writing nothing; ``execute`` trains with progress shown the way the place it runs in shows it (live
curves in Jupyter, a bar in a terminal, a line per epoch in a pipe), checkpoints after every epoch, and writes
the run folder. A run folder can be continued (``resume``) exactly as if it had never stopped
(mlplab.runs.checkpoint). ``model=`` takes your own ``nn.Module``: the same road, recorded by its import path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mlplab.config import TrainConfig, dump_config, given_keys
from mlplab.data.dataset import Dataset
from mlplab.data.load import data_keys, load_data
from mlplab.data.schema import Schema
from mlplab.models.build import build_model, check_module_output, init_module, module_path
from mlplab.models.embeddings import numeric_positions
from mlplab.runs.checkpoint import FILE as CHECKPOINT
from mlplab.runs.checkpoint import Checkpoint, Checkpointer, check_resume, load_checkpoint, restore_rng
from mlplab.runs.failures import Interrupted, out_of_memory_hint
from mlplab.runs.run import Run, figure_jobs, final_metrics, history_csv, write_outputs
from mlplab.runs.sealed import MANIFEST
from mlplab.runs.rundir import (RunLock, WriteFailed, fresh_folders, new_run_dir, remove_run_dir,
                                remove_stale_temporaries, write_text)
from mlplab.settings import resolve
from mlplab.training.callbacks import Callback
from mlplab.training.distributed import is_main
from mlplab.training.fit import NonFiniteLoss, fit, resolve_device
from mlplab.training.optim import build_optimizer
from mlplab.training.progress import EpochProgress
from mlplab.training.state import TrainState

PROGRESS = ("auto", "notebook", "bar", "lines", "quiet")


@dataclass
class Plan:
    """A run checked and ready, nothing written yet: what ``execute`` trains."""

    data: Dataset
    config: TrainConfig
    model: nn.Module
    opt: torch.optim.Optimizer
    checkpoint: Checkpoint | None = None   # the state a resumed run continues from
    resume: Path | None = None
    folder: Path | None = None             # the run folder itself (a cv fold's); None: a new one under config.out


def train(data=None, *, config: TrainConfig | None = None, model: nn.Module | None = None, write: bool | None = None,
          progress: str = "auto", callbacks: Sequence = (), resume: str | Path | None = None,
          verbose: bool = False, **keys) -> Run:
    """Train on ``data`` as ``config`` and ``keys`` (any TrainConfig key) say; return the trained Run.

    ``data``: a Dataset (``Dataset.from_arrays(x, y)``), a dataset name (``"digits"``), a table file
    (``"t.csv"``, with ``target=``) or a DataFrame; None: ``config.dataset`` / ``config.data``.
    ``model``: your own ``nn.Module`` to train instead of the one the config describes (or a model type by
    name, ``"cnn"``, as the config key).
    ``write``: fill a new run folder under ``config.out`` (default: only when ``out=`` is given).
    ``progress``: ``auto``, ``notebook``, ``bar``, ``lines`` or ``quiet``. ``callbacks``: extra fit callbacks.
    ``resume`` (a run folder) continues that run where its last checkpoint stopped, in the same folder.

    >>> import mlplab
    >>> run = mlplab.train("iris", hidden=[16], epochs=3, progress="quiet", device="cpu")
    >>> run.predict(run.data.x_test[:2]).shape
    (2,)
    """
    write = "out" in keys if write is None else write
    with contextlib.ExitStack() as held:
        if write and resume is not None:  # one writer per run folder, from before it is read
            held.enter_context(RunLock(resume))
        plan = prepare(data, config=config, model=model, resume=resume, **keys)
        return execute(plan, write=write, progress=progress, callbacks=callbacks, verbose=verbose, held=held)


def prepare(data=None, *, config: TrainConfig | None = None, model: nn.Module | None = None,
            resume: str | Path | None = None, file: str | Path | None = None, **keys) -> Plan:
    """Resolve the settings, read the data, build the model and optimizer, check it all; write nothing.

    The user's keys are ``config``'s (those it was given: ``config.given``), a config ``file``'s, the keys
    ``data`` stands for (a name or a file) and ``keys``, in that order (mlplab.settings.resolve).
    """
    if "dataset" in keys and data is not None:
        raise ValueError("give the data either as train's first argument or as dataset=, not both")
    if isinstance(model, str):  # a model type by name (mlp, cnn, ...): a config key like any other
        keys, model = {**keys, "model": model}, None
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module (your own class, or nn.Sequential); got "
                        f"{type(model).__name__}; for a built-in model type pass model type names as "
                        "config keys instead, e.g. train(data, hidden=[256])")
    if model is not None:
        keys = {"model": "module", "module": module_path(model), **keys}
    if resume is not None:  # the saved settings, exactly; only where and how long may change
        settings = None
        run_config = config.replace(**keys) if config is not None else TrainConfig().replace(**keys)
    else:
        user = {**(given_keys(config) if config is not None else {}), **data_keys(data), **keys}
        settings = resolve(user, file=file)                          # enough to read the data with
        run_config = settings.config
    checkpoint = check_resume(resume, run_config) if resume is not None else None
    dataset, run_config = load_data(data, run_config)
    if settings is not None:  # now the data's preset (a table's task and size) goes under the user's keys
        run_config = resolve(settings.keys, data=dataset).config.replace(dataset=run_config.dataset)
    device = resolve_device(run_config.device)  # a device this machine lacks fails before the model is built
    with out_of_memory_hint(run_config, model_only=True):
        if model is None:
            model = build_model(run_config, dataset.input_shape, dataset.task, dataset.output_size,
                                numeric=numeric_positions(dataset))
        else:
            if checkpoint is None:
                init_module(model, run_config)
            dataset = check_module_output(model, dataset, run_config)
    if checkpoint is not None:
        model.load_state_dict(checkpoint.model)
    huge = [f"{k}={getattr(run_config, k)!r}" for k in ("lr", "weight_decay", "momentum")
            if abs(getattr(run_config, k, 0) or 0) > 3.4e38]  # float32's range: the update would overflow in step 1
    if huge:
        raise ValueError(f"{', '.join(huge)} is beyond float32's range (±3.4e38), which the weights are updated in; "
                         "use a learning rate such as 0.1 or 1e-3")
    if run_config.class_weight is not None and dataset.task == "regression":
        raise ValueError(f"class_weight={run_config.class_weight!r} weighs classes, but {dataset.name}'s target is a "
                         "regression (numbers, no classes); leave --class-weight out, or pass --task multiclass")
    opt = build_optimizer(run_config, model.to(device))  # one path, fresh or resumed
    if checkpoint is not None:
        opt.load_state_dict(checkpoint.optimizer)
    return Plan(dataset, run_config, model, opt, checkpoint, None if resume is None else Path(resume))


def execute(plan: Plan, *, write: bool = False, progress: str = "auto", callbacks: Sequence = (),
            verbose: bool = False, held: contextlib.ExitStack | None = None) -> Run:
    """Train ``plan`` (``prepare``'s), checkpointing every epoch, and write its run folder when ``write``."""
    with contextlib.ExitStack() as own:
        return _execute(plan, write, progress, callbacks, verbose, own if held is None else held)


def _execute(plan: Plan, write: bool, progress: str, callbacks: Sequence, verbose: bool,
             held: contextlib.ExitStack) -> Run:
    folder = {"path": None, "saver": None}  # filled as they are made: what a Ctrl-C or SIGTERM names or removes
    out = plan.folder.parent if plan.folder is not None else plan.config.out
    with fresh_folders(out) if write and plan.resume is None else contextlib.nullcontext(), \
            interrupted(folder, plan.config, fresh=plan.resume is None):
        return _run(plan, write, progress, list(callbacks) + ([PathReport()] if verbose else []), held, folder)


@contextlib.contextmanager
def interrupted(folder: dict, config: TrainConfig, fresh: bool):
    """Ctrl-C or SIGTERM from the run folder's creation to the end of training: a fresh folder holding no
    checkpoint is removed (nothing to resume); else the message names the epoch it keeps and how to continue."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        path, saver = folder["path"], folder["saver"]
        if path is None:
            raise
        kept = saver.epoch if saver is not None else 0
        if (path / CHECKPOINT).exists():  # the file, not the counter: a signal may land between the two
            with contextlib.suppress(Exception):
                kept = load_checkpoint(path).epoch
        elif fresh:
            remove_run_dir(path)
            raise Interrupted("interrupted before its first epoch was saved; nothing was kept") from None
        raise Interrupted(f"interrupted; {path} keeps epoch {kept} of {config.epochs}; continue with: "
                          f"mlplab train --resume {path}") from None


def _run(plan: Plan, write: bool, progress: str, callbacks: list, held: contextlib.ExitStack, folder: dict) -> Run:
    data, config, model, checkpoint = plan.data, plan.config, plan.model, plan.checkpoint
    history, state = None, TrainState()
    if checkpoint is not None:
        history, state = checkpoint.history, checkpoint.state
        restore_rng(checkpoint.rng)
    path = saver = None
    if write:  # under torchrun only rank 0 writes; every rank resumes from the same checkpoint
        path = plan.resume if plan.resume is not None else (
            new_run_dir(config.out, config.dataset) if plan.folder is None else exact_folder(plan.folder))
        folder["path"] = path
        if plan.resume is None:
            held.enter_context(RunLock(path))
        saver = folder["saver"] = Checkpointer(path, config, checkpoint.epoch if checkpoint else 0, state)
        with written(path, saver, fresh=plan.resume is None):
            remove_stale_temporaries(path)
            (path / MANIFEST).unlink(missing_ok=True)  # a resumed run is unsealed until its final files are written
            write_text(path / "config.toml", dump_config(config))
        callbacks += [saver, lambda epoch, history, model, opt: history_csv(path, history) if saver.epoch == epoch
                      else None]  # history.csv as the checkpoint has it
    inspector = inspection(plan, path) if config.inspect else None  # off: nothing built, no hook anywhere
    if inspector is not None:
        callbacks.insert(0, inspector)  # before the checkpoint: layers.csv never lags the checkpointed epoch
    reporter = progress_callback(progress, config.epochs, data.task != "regression", title=run_title(data, config))
    if reporter is not None:
        callbacks.append(reporter)
    if inspector is not None and reporter is not None and not isinstance(reporter, EpochProgress):
        from mlplab.plots.layers import LiveLayers  # live curves in a notebook: the layer figure live beside them

        callbacks.append(LiveLayers(inspector, title=f"{run_title(data, config)}: layer statistics"))
    worker = None
    if data.columns is not None and (path is not None or config.baselines != "none") and is_main():  # a table
        from mlplab.runs.report_worker import start  # (rank 0's): baselines fit, figures drawn in a 2nd process

        worker = held.enter_context(start(data, config.baselines, config.seed))
    try:
        with out_of_memory_hint(config):
            history = fit(model, data, config, opt=plan.opt, history=history, state=state, callbacks=callbacks)
    except (ValueError, TypeError, OSError, NonFiniteLoss) as e:
        failed(e, path, saver, fresh=plan.resume is None)
        raise
    except Exception:  # anything else (a bug): no config-only folder is left behind either
        if path is not None and plan.resume is None and saver.epoch == 0:
            remove_run_dir(path)
        raise
    finally:
        if isinstance(reporter, EpochProgress):
            reporter.stop()
    run = Run(model, config, history, final_metrics(history, model, config), Schema.of(data), path, data)
    run.layer_rows = inspector.rows if inspector is not None else None
    run.metrics["rows"] = {s: len(x) if x is not None else 0 for s, x in
                           (("train", data.x_train), ("val", data.x_val), ("test", data.x_test))}
    if data.columns is not None:  # a table: the test metrics by name, baselines, columns.md, metrics.md
        from mlplab.runs.metrics import add_table_metrics

        add_table_metrics(run)
        if worker is not None and path is not None:  # the figures drawn there while the other files are written
            worker.draw(figure_jobs(path, run))
        if worker is not None and config.baselines != "none":
            baselines = worker.baselines()
            if "test" in run.metrics:  # beside the net, on the same rows
                run.metrics["baselines"] = baselines
    if path is not None:
        try:
            with written(path, saver, fresh=False):
                write_outputs(path, run, draw=worker is None)
                if data.columns is not None:
                    from mlplab.runs.metrics import write_table_report

                    write_table_report(path, run)
                if worker is not None:
                    worker.drawn()
        except KeyboardInterrupt:  # every epoch is in the checkpoint: resuming writes the final files
            raise Interrupted(f"interrupted while writing {path}'s final files; its checkpoint keeps epoch "
                              f"{saver.epoch}; finish with: mlplab train --resume {path}") from None
    return run


def inspection(plan: Plan, path: Path | None):
    """The layer statistics' Inspector (mlplab.training.inspect), writing layers.csv after every epoch when the
    run has a folder; a resumed run keeps the rows of the epochs its checkpoint holds."""
    from mlplab.runs.rundir import atomic_write
    from mlplab.training.inspect import Inspector, read_layers_csv, write_layers_csv

    write = None if path is None else (lambda rows: atomic_write(path / "layers.csv",
                                                                 lambda tmp: write_layers_csv(tmp, rows)))
    inspector = Inspector(plan.data, plan.config.loss, on_rows=write)
    if plan.checkpoint is not None and path is not None and (path / "layers.csv").is_file():
        inspector.rows = [r for r in read_layers_csv(path / "layers.csv") if r["epoch"] <= plan.checkpoint.epoch]
    return inspector


def exact_folder(path: Path) -> Path:
    """Create the run folder ``path`` (its parent may exist); refused when it exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()
    return path


class PathReport(Callback):
    """``--verbose``: say which path the steps take and which memory layout, and why, before the first epoch."""

    def on_train_begin(self, history, model, opt):
        print(f"backprop: {history.backprop} ({history.backprop_reason})", flush=True)
        print(f"memory format: {history.memory_format} ({history.memory_format_reason})", flush=True)


def progress_callback(progress: str, epochs: int, classify: bool, title: str) -> Callback | None:
    """``auto``: live curves in a Jupyter notebook, a bar in a terminal, one line per epoch otherwise."""
    if progress not in PROGRESS:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS)}; got {progress!r}")
    if progress == "quiet":  # before importing matplotlib (30 MB), which a quiet run does without
        return None
    from mlplab.plots.live import LiveCurves, in_notebook

    if progress == "notebook" or (progress == "auto" and in_notebook()):
        return LiveCurves(epochs, classify, title)
    return EpochProgress(epochs, mode=progress)


def run_title(data: Dataset, config: TrainConfig) -> str:
    """What the curves are of: ``digits: mlp 256 sgd lr=0.1`` (the class name for your own module)."""
    what = config.module.rpartition(":")[2] if config.model == "module" else (
        f"{config.model} {'-'.join(map(str, config.hidden))}" if config.model in ("mlp", "rnn", "lstm") else config.model)
    return f"{data.name}: {what} {config.optimizer} lr={config.lr}"


def failed(e: BaseException, path: Path | None, saver: Checkpointer | None, fresh: bool) -> None:
    """A failure in training: a fresh folder with no epoch saved is removed (a bad input met in the first epoch
    leaves nothing behind); else the error says what the folder keeps and how to continue."""
    if path is None:
        return
    if saver.epoch == 0 and fresh:
        remove_run_dir(path)
        return
    note = f"{path} keeps the last good checkpoint (epoch {saver.epoch})"
    if not isinstance(e, NonFiniteLoss):  # resuming a diverged run would diverge again
        note += f"; once fixed, continue with: mlplab train --resume {path}"
    plain = type(e) in (ValueError, TypeError, NonFiniteLoss) or isinstance(e, OSError)
    raise (type(e) if plain else ValueError)(f"{e}; {note}") from None


@contextlib.contextmanager
def written(path: Path, saver: Checkpointer, fresh: bool):
    """A write that fails (a full disk, say) names the file; a fresh folder with no epoch saved is removed,
    else the message says how to continue once there is room."""
    try:
        yield
    except WriteFailed as e:
        if fresh and saver.epoch == 0:
            remove_run_dir(path)
            raise
        raise WriteFailed(f"{e}; {path} keeps epoch {saver.epoch}; free space, then continue with: "
                          f"mlplab train --resume {path}", path=e.path, code=e.errno) from None
