"""Fashion-MNIST for the recipes: where it is, a clear error when it is not, a seeded subset for ``--quick``.

The folder is ``--data-dir``, else ``$MLPLAB_FASHION_MNIST``, else mlplab's usual resolution
(``$MLPLAB_DATA/fashion-mnist``, then the user cache, downloading into it when missing).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from mlplab.data.load import Dataset, load_dataset
from mlplab.data.mnist import FILES


def folder(data_dir: str | Path | None) -> Path | None:
    """The folder named by ``data_dir`` or ``$MLPLAB_FASHION_MNIST``; None leaves it to mlplab's resolution."""
    chosen = data_dir if data_dir is not None else os.environ.get("MLPLAB_FASHION_MNIST") or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    missing = [f for f in FILES if not (path / f).exists() and not (path / f).with_suffix("").exists()]
    if missing:
        raise FileNotFoundError(f"Fashion-MNIST not found in {path} (missing {', '.join(missing)}); pass "
                                "--data-dir FOLDER holding the four IDX files, or set MLPLAB_FASHION_MNIST")
    return path


def load(data_dir: str | Path | None, seed: int, subset: tuple[int, int] | None = None) -> Dataset:
    """Fashion-MNIST's official 60,000/10,000 split in [0, 1]; ``subset=(n_train, n_test)`` draws seeded rows."""
    data = load_dataset("fashion-mnist", data_dir=folder(data_dir), seed=seed, val_fraction=0.0)
    if subset is None:
        return data
    g = torch.Generator().manual_seed(seed)
    tr = torch.randperm(len(data.x_train), generator=g)[: subset[0]]
    te = torch.randperm(len(data.x_test), generator=g)[: subset[1]]
    return dataclasses.replace(data, x_train=data.x_train[tr], y_train=data.y_train[tr],
                               x_test=data.x_test[te], y_test=data.y_test[te])
