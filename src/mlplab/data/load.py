"""``load_dataset(name)``: tensors for train / validation / test plus what the model needs to know.

Bundled scikit-learn sets are split with seeded, stratified splits; the scaling the model takes them with is
fitted on the training split only (``feature_stats``), and the Dataset keeps the values as they are. Image sets keep their official train/test split and are scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mlplab.data import mnist, synthetic
from mlplab.data.dataset import Dataset
from mlplab.registry import lookup

BUNDLED = {  # name -> (loader in sklearn.datasets, task); sklearn is imported on first use (slow start-up)
    "digits": ("load_digits", "multiclass"),
    "iris": ("load_iris", "multiclass"),
    "wine": ("load_wine", "multiclass"),
    "breast-cancer": ("load_breast_cancer", "binary"),
    "diabetes": ("load_diabetes", "regression"),
}
IMAGES = ("fashion-mnist", "mnist")
SYNTHETIC = ("synthetic-linear", "polynomial")
DATASETS = sorted([*BUNDLED, *IMAGES, *SYNTHETIC])


def _targets(y: np.ndarray, task: str) -> Tensor:
    if task == "multiclass":
        return torch.as_tensor(y, dtype=torch.int64)
    return torch.as_tensor(y, dtype=torch.float32).reshape(len(y), -1)


def split(x: np.ndarray, y: np.ndarray, task: str, test_fraction: float, val_fraction: float, seed: int):
    """Seeded train/val/test split, stratified by class for classification; fractions are of the whole set
    (mlplab.data.split: scikit-learn's train_test_split, index for index)."""
    from mlplab.data.split import train_test_rows

    stratify = task != "regression"
    rest, test = train_test_rows(y, test_fraction, seed, stratify)
    x_rest, x_test, y_rest, y_test = x[rest], x[test], y[rest], y[test]
    if val_fraction <= 0:
        return x_rest, y_rest, None, None, x_test, y_test
    tr, val = train_test_rows(y_rest, val_fraction / (1 - test_fraction), seed, stratify)
    return x_rest[tr], y_rest[tr], x_rest[val], y_rest[val], x_test, y_test


def _bundled(name: str, seed: int, val_fraction: float, test_fraction: float) -> Dataset:
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader, task = BUNDLED[name]
    bunch = getattr(datasets, loader)()
    x_tr, y_tr, x_val, y_val, x_te, y_te = split(bunch.data, bunch.target, task, test_fraction, val_fraction,
                                                 seed)
    scaler = StandardScaler().fit(x_tr)  # training statistics only: no leakage from val/test
    y_stats = None
    if task == "regression":  # scale the target too, so MSE is O(1) and default lrs work
        y_scaler = StandardScaler().fit(y_tr.reshape(-1, 1))
        y_tr, y_te = (y_scaler.transform(v.reshape(-1, 1)) for v in (y_tr, y_te))
        y_val = None if y_val is None else y_scaler.transform(y_val.reshape(-1, 1))
        y_stats = scaler_stats(y_scaler)

    def xs(v):  # as given: the run applies the scaling (Dataset.encode)
        return None if v is None else torch.as_tensor(v, dtype=torch.float32)

    names = tuple(str(n) for n in getattr(bunch, "target_names", ())) if task != "regression" else None
    return Dataset(name, task, xs(x_tr), _targets(y_tr, task), xs(x_val),
                   None if y_val is None else _targets(y_val, task), xs(x_te), _targets(y_te, task),
                   input_shape=(bunch.data.shape[1],), image_shape=(8, 8) if name == "digits" else None,
                   num_classes=len(np.unique(bunch.target)) if task != "regression" else None,
                   class_names=names, feature_stats=scaler_stats(scaler), target_stats=y_stats)


def scaler_stats(scaler) -> tuple[Tensor, Tensor]:
    """A fitted StandardScaler's (mean, scale) as float64 tensors, for ``Dataset.feature_stats``: applied in
    float64 by ``Dataset.standardize``, they reproduce its transform bit for bit."""
    return torch.as_tensor(scaler.mean_, dtype=torch.float64), torch.as_tensor(scaler.scale_, dtype=torch.float64)


def _images(name: str, data_dir, seed: int, val_fraction: float) -> Dataset:
    x_tr, y_tr, x_te, y_te = mnist.load_idx_dataset(name, data_dir)
    scale = lambda v: torch.as_tensor(v, dtype=torch.float32) / 255.0  # noqa: E731  (as ToTensor does)
    x_val = y_val = None
    if val_fraction > 0:
        from mlplab.data.split import train_test_rows

        tr, val = train_test_rows(y_tr, val_fraction, seed, stratify=True)
        x_tr, x_val, y_tr, y_val = x_tr[tr], x_tr[val], y_tr[tr], y_tr[val]
    return Dataset(name, "multiclass", scale(x_tr), _targets(y_tr, "multiclass"),
                   None if x_val is None else scale(x_val), None if y_val is None else _targets(y_val, "multiclass"),
                   scale(x_te), _targets(y_te, "multiclass"), input_shape=tuple(x_tr.shape[1:]), num_classes=10,
                   class_names=mnist.SOURCES[name].class_names, image_shape=tuple(x_tr.shape[1:]))


DATA_SEED_OFFSET = 104_729  # the model's init draws from Generator(seed): the data must not share that stream


def _synthetic(name: str, seed: int, val_fraction: float) -> Dataset:
    data_seed = seed + DATA_SEED_OFFSET
    if name == "synthetic-linear":  # d2l's example: w = [2, -3.4], b = 4.2
        x, y = synthetic.linear(2000, torch.tensor([2.0, -3.4]), 4.2, noise=0.01, seed=data_seed)
    else:  # d2l's polynomial: y = 5 + 1.2x - 3.4x²/2! + 5.6x³/3! + noise
        x, y = synthetic.polynomial(2000, torch.tensor([5.0, 1.2, -3.4, 5.6]), seed=data_seed)
    x_tr, y_tr, x_val, y_val, x_te, y_te = split(x.numpy(), y.numpy(), "regression", 0.5, val_fraction, seed)
    t = lambda v: None if v is None else torch.as_tensor(v)  # noqa: E731
    return Dataset(name, "regression", t(x_tr), t(y_tr), t(x_val), t(y_val), t(x_te), t(y_te),
                   input_shape=(x.shape[1],))


def load_dataset(name: str, *, data_dir: str | Path | None = None, seed: int = 0,
                 val_fraction: float | None = None, test_fraction: float = 0.2) -> Dataset:
    """Load dataset ``name`` as tensors.

    ``val_fraction`` defaults to 0.2 of the whole for bundled and synthetic sets and to 0 for the image sets
    (their official 60,000/10,000 split, as d2l trains on it).

    >>> d = load_dataset("iris"); d.task, d.num_classes, d.input_shape
    ('multiclass', 3, (4,))
    """
    lookup(dict.fromkeys(DATASETS), name, "dataset")
    if val_fraction is None:
        val_fraction = 0.0 if name in IMAGES else 0.2
    if not 0 <= val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction and test_fraction must be in [0, 1) with a sum below 1; "
                         f"got {val_fraction} and {test_fraction}")
    if name in BUNDLED:
        return _bundled(name, seed, val_fraction, test_fraction)
    if name in IMAGES:
        return _images(name, data_dir, seed, val_fraction)
    return _synthetic(name, seed, val_fraction)


def describe(name: str) -> tuple[tuple[int, ...], str, int]:
    """(input_shape, task, output_size) of dataset ``name`` without reading the image files."""
    lookup(dict.fromkeys(DATASETS), name, "dataset")
    if name in IMAGES:
        return (28, 28), "multiclass", 10
    d = load_dataset(name)
    return d.input_shape, d.task, d.output_size


def read_table_of(config, data=None, log=None, **options) -> Dataset:
    """The table ``data`` (a DataFrame or pyarrow Table; default the file ``config.data``) read by
    ``Dataset.from_table`` with the table options of ``config``; ``options``: more of its keywords (``rows``
    for a cross-validation fold)."""
    seed = config.seed if config.data_seed is None else config.data_seed  # the split's seed
    return Dataset.from_table(config.data if data is None else data, config.target, **{
        "task": config.task, "categorical": config.categorical, "numeric": config.numeric, "drop": config.drop,
        "allow_leak": config.allow_leak, "na_values": config.na_values, "test": config.test,
        "val_fraction": config.val_fraction, "seed": seed, "log": log, **options})


def is_frame(data) -> bool:
    """A pandas DataFrame or a pyarrow Table (not imported to find out)."""
    return type(data).__name__ in ("DataFrame", "Table") and hasattr(data, "columns")


def data_keys(data) -> dict:
    """The config keys ``train(data)`` stands for: a named set is ``dataset``, a path is the table file ``data``;
    a Dataset, DataFrame or pyarrow Table (read by ``load_data``) and None stand for no key."""
    if data is None or isinstance(data, Dataset) or is_frame(data):
        return {}
    if isinstance(data, Path) or (isinstance(data, str) and data not in DATASETS and (
            Path(data).suffix or "/" in data or Path(data).exists())):  # a folder or file is no dataset's name
        return {"data": str(data)}
    if isinstance(data, str):
        return {"dataset": data}
    raise TypeError(f"data must be a Dataset (e.g. Dataset.from_arrays(x, y)), a dataset name ({', '.join(DATASETS)}), "
                    f"a table file (.csv, .parquet, ...) or a DataFrame; got {type(data).__name__}")


def as_file(keys: dict) -> dict:
    """``keys`` (settings' keys) with ``data``, which there always names a table file, as a Path: passed on as
    ``train(**keys)`` or ``prepare(**keys)`` it is read as a file even without a suffix, and a missing one is
    said to be missing (not "unknown dataset")."""
    return {**keys, "data": Path(keys["data"])} if isinstance(keys.get("data"), str) else keys


def load_data(data, config, log=None) -> tuple[Dataset, object]:
    """The Dataset to train on, and ``config`` naming it: ``data`` as given (a Dataset, or a DataFrame read
    with ``config``'s table options), else the table file ``config.data``, else the named set
    ``config.dataset``; a table's notices go to ``log`` (default stderr)."""
    if isinstance(data, Dataset):
        return data, config.replace(dataset=data.name)
    seed = config.seed if config.data_seed is None else config.data_seed  # the split's seed
    if config.cv_folds:  # a cross-validation fold of the training pool
        fold = load_fold(config)
        return fold, config.replace(dataset=fold.name)
    if is_frame(data) or config.data is not None:
        if not config.target:
            raise ValueError("a table needs target=COLUMN (--target): the column to predict")
        table = read_table_of(config, data if is_frame(data) else None, log=log, keep=config.keep)
        return table, config.replace(dataset=table.name)
    return load_dataset(config.dataset, data_dir=config.data_dir, seed=seed, val_fraction=config.val_fraction), config


def load_fold(config) -> Dataset:
    """Fold ``config.cv_fold`` of ``config.cv_folds`` (mlplab.data.split.fold_rows, shuffled with ``config.seed``) of
    the training pool: a named set's training part (``val_fraction=0``) or a table's rows outside its test rows,
    the fold's rows as validation and the pool's test rows as test. Every statistic (scaling, a table's column
    encoding) is fitted on the fold's training rows alone."""
    from mlplab.data.split import fold_rows

    seed = config.seed if config.data_seed is None else config.data_seed  # the test rows' seed
    if config.data is not None:
        from mlplab.data.tabular import pool_rows

        name = Path(config.data).stem
        y, task, pool, test_rows = pool_rows(config.data, config.target, task=config.task,
                                             na_values=config.na_values, test=config.test, seed=seed)
        train, val = fold_rows(y, task, name, config.cv_folds, config.seed)[config.cv_fold - 1]
        rows = {"train": pool[train], "val": pool[val], "test": test_rows}
        return read_table_of(config, log=lambda message: None, rows=rows, name=name, keep=config.keep)
    pool = load_dataset(config.dataset, data_dir=config.data_dir, seed=seed, val_fraction=0.0)
    y = pool.y_train.numpy().reshape(len(pool.y_train), -1)[:, 0]  # class labels, or the first target
    train, val = fold_rows(y, pool.task, pool.name, config.cv_folds, config.seed)[config.cv_fold - 1]
    return fold_dataset(pool, train, val, standardize=config.dataset in BUNDLED)


def fold_dataset(pool: Dataset, train: np.ndarray, val: np.ndarray, standardize: bool) -> Dataset:
    """``pool`` with its training part split into train/validation rows, scaled by the fold's training rows."""
    import dataclasses

    from mlplab.data.dataset import fit_stats

    tr, va = torch.as_tensor(train), torch.as_tensor(val)
    parts = {"x_train": pool.x_train[tr], "y_train": pool.y_train[tr], "x_val": pool.x_train[va],
             "y_val": pool.y_train[va], "x_test": pool.x_test, "y_test": pool.y_test, "_encoded": {}}
    if standardize:
        parts["feature_stats"] = fit_stats(parts["x_train"].reshape(len(tr), -1).numpy())
    if pool.task == "regression" and pool.target_stats is not None:  # refit the targets' scaling on the fold
        mean, scale = pool.target_stats
        units = {k: parts[k].double() * scale + mean for k in ("y_train", "y_val", "y_test")}
        stats = fit_stats(units["y_train"].numpy())
        for k, v in units.items():
            parts[k] = ((v - stats[0]) / stats[1]).float()
        parts["target_stats"] = stats
    return dataclasses.replace(pool, **parts)
