"""K-fold cross-validation: K models on K train/validation splits of the training pool, then mean ± std.

The pool is the dataset's training part (``val_fraction=0``); its test split stays aside and is only
evaluated. Folds come from scikit-learn's ``StratifiedKFold`` (classification: every fold keeps the class
proportions) or ``KFold`` (regression), shuffled with the run seed.

Standardisation happens inside each fold from that fold's training rows only. ``load_dataset`` standardises
the bundled sets by the pool's statistics, an affine map per feature; refitting a StandardScaler on the fold's
training rows of those values gives exactly ``(x_raw - mean_fold) / std_fold``, so no statistic of the
held-out fold reaches the model. Image and synthetic sets are not standardised, as in ``mlplab train``.

A table (``config.data``) is read once per fold with ``from_table(rows=...)``: its column preprocessing
(medians, scaling, categories, the "other" slot) is fitted on that fold's training rows alone, so folds may
differ in width; the test rows are those ``from_table`` holds out with the run seed (or the ``test`` file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from mlplab.config import TrainConfig, dump_config
from mlplab.data.load import BUNDLED, Dataset, load_dataset, scaler_stats
from mlplab.data.schema import Schema
from mlplab.experiments import tables
from mlplab.models.build import build_model
from mlplab.models.embeddings import numeric_positions
from mlplab.plots import figures as plots
from mlplab.runs.run import Run, final_metrics
from mlplab.runs.rundir import check_writable, new_run_dir, write_json, write_text
from mlplab.training.device import check_device
from mlplab.training.fit import History, fit
from mlplab.training.optim import build_optimizer


def split_indices(data: Dataset, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, val_idx) per fold over ``data``'s training part; stratified for classification."""
    y = data.y_train.numpy().reshape(len(data.y_train), -1)[:, 0]  # class labels, or the first target
    return fold_indices(y, data.task, data.name, folds, seed)


def fold_indices(y: np.ndarray, task: str, name: str, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, val_idx) per fold over the rows labelled ``y``; stratified for classification."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, e.g. --folds 5; got {folds!r}")
    n = len(y)
    if folds > n:
        raise ValueError(f"folds ({folds}) cannot exceed the {n} training samples of {name}")
    if task == "regression":
        splitter = KFold(folds, shuffle=True, random_state=seed)
    else:
        smallest = np.bincount(y.astype(np.int64)).min(initial=n)
        if folds > smallest:
            raise ValueError(f"folds ({folds}) cannot exceed the smallest class's {smallest} samples in "
                             f"{name}; use --folds {max(2, smallest)} or fewer")
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((n, 1)), y))


def table_folds(config: TrainConfig, folds: int) -> tuple[list, Callable[[np.ndarray, np.ndarray], Dataset]]:
    """For ``config.data`` (a table): the folds over its pool, and a function from a fold's (train_idx,
    val_idx) to its Dataset, read with the preprocessing fitted on that fold's training rows alone."""
    from mlplab.data.tabular import pool_rows
    from mlplab.runs.train import read_table_of

    name = Path(config.data).stem
    seed = config.seed if config.data_seed is None else config.data_seed  # the test rows' seed, as read_table_of's
    y, task, pool, test_rows = pool_rows(config.data, config.target, task=config.task, na_values=config.na_values,
                                         test=config.test, seed=seed)
    splits = fold_indices(y, task, name, folds, config.seed)

    def fold(train_idx: np.ndarray, val_idx: np.ndarray) -> Dataset:
        rows = {"train": pool[train_idx], "val": pool[val_idx], "test": test_rows}
        return read_table_of(config, log=lambda message: None, rows=rows, name=name)

    return splits, fold


def _standardize(scaler: StandardScaler, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(scaler.transform(x.reshape(len(x), -1).numpy()), dtype=torch.float32).reshape(x.shape)


def fold_dataset(pool: Dataset, train_idx: np.ndarray, val_idx: np.ndarray, standardize: bool) -> Dataset:
    """``pool`` with its training part split into train/val by the indices, standardised by the fold's train rows."""
    tr, va = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
    parts = {"x_train": pool.x_train[tr], "y_train": pool.y_train[tr], "x_val": pool.x_train[va],
             "y_val": pool.y_train[va], "x_test": pool.x_test, "y_test": pool.y_test}
    if standardize:
        scaler = StandardScaler().fit(parts["x_train"].reshape(len(tr), -1).numpy())
        for key in ("x_train", "x_val", "x_test"):
            parts[key] = _standardize(scaler, parts[key])
        mean, scale = scaler_stats(scaler)
        if pool.feature_stats is not None:  # standardised twice: compose, so unstandardize still reaches the source
            mean, scale = pool.feature_stats[0] + mean * pool.feature_stats[1], scale * pool.feature_stats[1]
        parts["feature_stats"] = (mean, scale)
        if pool.task == "regression":
            y_scaler = StandardScaler().fit(parts["y_train"].numpy())
            for key in ("y_train", "y_val", "y_test"):
                parts[key] = _standardize(y_scaler, parts[key])
            mean, scale = scaler_stats(y_scaler)
            if pool.target_stats is not None:
                mean, scale = pool.target_stats[0] + mean * pool.target_stats[1], scale * pool.target_stats[1]
            parts["target_stats"] = (mean, scale)
    return dataclasses.replace(pool, **parts)


@dataclass
class CVResult:
    path: Path | None
    histories: list[History]
    metrics: list[dict]    # per fold
    table: str             # markdown: one row per fold, then mean ± std


def cross_validate(config: TrainConfig, folds: int = 5, *, write: bool = True,
                   log: Callable[[str], None] | None = None) -> CVResult:
    """Train one model per fold with ``config``; with ``write``, fill ``<config.out>/<time>-cv-<dataset>``."""
    if config.data is not None:  # a table: each fold read with its own preprocessing
        splits, fold = table_folds(config, folds)
        config = config.replace(dataset=Path(config.data).stem)
    else:
        pool = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed, val_fraction=0.0)
        splits = split_indices(pool, folds, config.seed)
        standardize = config.dataset in BUNDLED

        def fold(train_idx: np.ndarray, val_idx: np.ndarray) -> Dataset:
            return fold_dataset(pool, train_idx, val_idx, standardize)
    first = fold(*splits[0])
    check_device(config.device)  # a bad spec, optimizer setting or device fails before any file:
    build_optimizer(config, build_model(config, first.input_shape, first.task, first.output_size,
                                        numeric=numeric_positions(first)))
    path = new_run_dir(check_writable(config.out), f"cv-{config.dataset}") if write else None
    if path is not None:
        write_json(path / "cv.json", {"folds": folds, "seed": config.seed})  # marks the folder as a cv folder
        write_text(path / "config.toml", dump_config(config))
    histories, metrics = [], []
    for i, (train_idx, val_idx) in enumerate(splits, start=1):
        data = first if i == 1 else fold(train_idx, val_idx)
        model = build_model(config, data.input_shape, data.task, data.output_size, numeric=numeric_positions(data))
        history = fit(model, data, config)
        m = final_metrics(history, model, config)
        histories.append(history)
        metrics.append(m)
        if path is not None:
            Run(model, config, history, m, Schema.of(data), data=data).save(path / f"fold{i}")  # a run folder
        if log is not None:
            log(f"fold {i}/{folds}: " + "  ".join(f"{k} {m[k]:.4f}" for k in tables.metric_keys([m])
                                                  if k.startswith(("train_", "val_")) and k != "train_seconds"))
    keys = [k for k in tables.metric_keys(metrics) if k != "train_seconds"]
    rows = [[str(i), *(m[k] for k in keys)] for i, m in enumerate(metrics, start=1)]
    stats = tables.aggregate(metrics)
    md_rows = [*rows, ["mean ± std", *(tables.fmt(*stats[k]) for k in keys)]]
    table = tables.markdown(["fold", *keys], md_rows)
    if path is not None:
        write_text(path / "table.md", table)
        csv_rows = [*rows, ["mean", *(stats[k][0] for k in keys)], ["std", *(stats[k][1] for k in keys)]]
        write_text(path / "folds.csv", tables.csv_text(["fold", *keys], csv_rows))
        for metric in [k for k in histories[0].rows[0] if k not in ("epoch", "seconds")]:
            curves = {f"fold {i}": [h.column(metric)] for i, h in enumerate(histories, start=1)}
            plots.overlay(curves, metric, path / f"cv_{metric}.png",
                          title=f"{config.dataset}: {metric} per fold ({folds}-fold CV)")
    return CVResult(path, histories, metrics, table)
