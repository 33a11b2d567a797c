"""``load_dataset(name)``: tensors for train / validation / test plus what the model needs to know.

Bundled scikit-learn sets are split with seeded, stratified splits and standardised with the training
split's statistics only. Image sets keep their official train/test split and are scaled to [0, 1].
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
    """Seeded train/val/test split, stratified by class for classification; fractions are of the whole set."""
    from sklearn.model_selection import train_test_split

    strat = y if task != "regression" else None
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                                      stratify=strat)
    if val_fraction <= 0:
        return x_rest, y_rest, None, None, x_test, y_test
    strat = y_rest if task != "regression" else None
    x_tr, x_val, y_tr, y_val = train_test_split(x_rest, y_rest, test_size=val_fraction / (1 - test_fraction),
                                                random_state=seed, stratify=strat)
    return x_tr, y_tr, x_val, y_val, x_test, y_test


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

    def xs(v):
        return None if v is None else torch.as_tensor(scaler.transform(v), dtype=torch.float32)

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
        from sklearn.model_selection import train_test_split

        x_tr, x_val, y_tr, y_val = train_test_split(x_tr, y_tr, test_size=val_fraction, random_state=seed,
                                                    stratify=y_tr)
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
