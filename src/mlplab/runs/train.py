"""``train(data, **config)``: one run from data to a trained ``Run`` (and, when asked, its run folder).

Data (a Dataset, or a dataset name) → the model the config describes → ``fit`` with progress shown the way
the place it runs in shows it (live curves in Jupyter, a bar in a terminal, a line per epoch in a pipe) →
final metrics, the training path and why → a ``Run`` that predicts on raw rows. Everything that can fail on
user input fails before a file is written; a run folder gets a checkpoint after every epoch and can be
continued (``resume``) exactly as if it had never stopped (mlplab.runs.checkpoint).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from mlplab.config import TrainConfig, dump_config
from mlplab.data.dataset import Dataset
from mlplab.data.schema import Schema
from mlplab.models.build import build_model, with_model_defaults
from mlplab.models.embeddings import numeric_positions
from mlplab.runs.checkpoint import Checkpointer, check_resume, restore_rng
from mlplab.runs.failures import Interrupted, out_of_memory_hint
from mlplab.runs.run import Run, final_metrics, history_csv, write_outputs
from mlplab.runs.rundir import (
    RunLock,
    WriteFailed,
    new_run_dir,
    remove_run_dir,
    remove_stale_temporaries,
    write_text,
)
from mlplab.training.callbacks import Callback
from mlplab.training.fit import NonFiniteLoss, fit, resolve_device
from mlplab.training.optim import build_optimizer
from mlplab.training.progress import EpochProgress

PROGRESS = ("auto", "notebook", "bar", "lines", "quiet")


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


def read_table_of(config: TrainConfig, log=None, **options) -> Dataset:
    """The table ``config.data`` read by mlplab.data.tabular.from_table with the table options of ``config``;
    ``options``: more of from_table's keywords (``rows`` for a cross-validation fold)."""
    from mlplab.data.tabular import from_table

    seed = config.seed if config.data_seed is None else config.data_seed  # the split's seed
    return from_table(config.data, config.target, **{
        "task": config.task, "categorical": config.categorical, "numeric": config.numeric, "drop": config.drop,
        "allow_leak": config.allow_leak, "na_values": config.na_values, "test": config.test,
        "val_fraction": config.val_fraction, "seed": seed, "log": log, **options})


def load_data(data: Dataset | str | None, config: TrainConfig, log=None) -> tuple[Dataset, TrainConfig]:
    """The Dataset to train on, and the config naming it; a table's notices go to ``log`` (default stderr)."""
    if isinstance(data, Dataset):
        return data, config.replace(dataset=data.name)
    if data is not None and not isinstance(data, str):
        raise TypeError(f"data must be a Dataset (e.g. Dataset.from_arrays(x, y)) or a dataset name; got "
                        f"{type(data).__name__}")
    if data is not None:
        config = config.replace(dataset=data)
    seed = config.seed if config.data_seed is None else config.data_seed  # the split's seed
    if config.data is not None:  # a table file: mlplab.data.tabular
        table = read_table_of(config, log=log)
        return table, config.replace(dataset=table.name)
    from mlplab.data.load import load_dataset

    return load_dataset(config.dataset, data_dir=config.data_dir, seed=seed, val_fraction=config.val_fraction), config


def train(data: Dataset | str | None = None, *, config: TrainConfig | None = None, write: bool | None = None,
          progress: str = "auto", callbacks: Sequence = (), resume: str | Path | None = None,
          verbose: bool = False, **keys) -> Run:
    """Train on ``data`` as ``config`` and ``keys`` (any TrainConfig key) say; return the trained Run.

    ``data``: a Dataset (``Dataset.from_arrays(x, y)``), a dataset name, or None for ``config.dataset``.
    ``write``: fill a new run folder under ``config.out`` (default: only when ``out=`` is given).
    ``progress``: ``auto``, ``notebook``, ``bar``, ``lines`` or ``quiet``. ``callbacks``: extra fit callbacks.
    ``resume`` (a run folder) continues that run where its last checkpoint stopped, in the same folder.

    >>> import mlplab
    >>> run = mlplab.train("iris", hidden=[16], epochs=3, progress="quiet", device="cpu")
    >>> run.predict(run.data.unstandardize(run.data.x_test[:2])).shape
    (2,)
    """
    if "dataset" in keys and data is not None:
        raise ValueError("give the data either as train's first argument or as dataset=, not both")
    write = "out" in keys if write is None else write
    if config is None and getattr(data, "columns", None) is not None:  # a table starts from its task's defaults
        from mlplab.training.presets import table_config

        config = with_model_defaults(table_config(data), keys)
    config = with_model_defaults(TrainConfig(), keys) if config is None else config.replace(**keys)
    with contextlib.ExitStack() as held:
        if write and resume is not None:  # one writer per run folder, from before it is read
            held.enter_context(RunLock(resume))
        checkpoint = check_resume(resume, config) if resume is not None else None
        data, config = load_data(data, config)
        with out_of_memory_hint(config, model_only=True):
            model = build_model(config, data.input_shape, data.task, data.output_size, numeric=numeric_positions(data))
        history = None
        if checkpoint is not None:
            model.load_state_dict(checkpoint.model)
        opt = build_optimizer(config, model.to(resolve_device(config.device)))  # one path, fresh or resumed
        if checkpoint is not None:
            opt.load_state_dict(checkpoint.optimizer)
            history = checkpoint.history
            restore_rng(checkpoint.rng)
        path = saver = None
        callbacks = list(callbacks) + ([PathReport()] if verbose else [])
        if write:  # under torchrun only rank 0 writes; every rank resumes from the same checkpoint
            path = Path(resume) if resume is not None else new_run_dir(config.out, config.dataset)
            if resume is None:
                held.enter_context(RunLock(path))
            saver = Checkpointer(path, config, checkpoint.epoch if checkpoint else 0)
            with written(path, saver, fresh=resume is None):
                remove_stale_temporaries(path)
                write_text(path / "config.toml", dump_config(config))
            callbacks += [saver, lambda epoch, history, model, opt: history_csv(path, history)]
        reporter = progress_callback(progress, config.epochs, data.task != "regression",
                                     title=f"{data.name}: {'-'.join(map(str, config.hidden))} {config.optimizer} "
                                           f"lr={config.lr}")
        if reporter is not None:
            callbacks.append(reporter)
        try:
            with out_of_memory_hint(config):
                history = fit(model, data, config, opt=opt, history=history, callbacks=callbacks)
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
            if isinstance(reporter, EpochProgress):
                reporter.stop()
        run = Run(model, config, history, final_metrics(history, model, config), Schema.of(data), path, data)
        if data.columns is not None:  # a table: the test metrics by name, columns.md, metrics.md, confusion.png
            from mlplab.runs.metrics import add_table_metrics

            add_table_metrics(run)
        if path is not None:
            try:
                with written(path, saver, fresh=False):
                    write_outputs(path, run)
                    if data.columns is not None:
                        from mlplab.runs.metrics import write_table_report

                        write_table_report(path, run)
            except KeyboardInterrupt:  # every epoch is in the checkpoint: resuming writes the final files
                raise Interrupted(f"interrupted while writing {path}'s final files; its checkpoint keeps epoch "
                                  f"{saver.epoch}; finish with: mlplab train --resume {path}") from None
    return run


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
