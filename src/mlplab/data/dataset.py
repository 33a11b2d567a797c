"""``Dataset``: train / validation / test tensors plus what a model needs to know about them.

``Dataset.from_arrays(x, y)`` turns your own arrays (numpy, torch or lists) into one: dtypes made right
(float32 inputs, int64 class indices), the task and the number of classes inferred, seeded stratified
splits, and the scaling the training rows give (``feature_stats``). The inputs stay as you gave them
(``x_train``, ``x_val``, ``x_test``; a table's rows as a pyarrow Table): the scaling, or a table's column
encoding, is fitted here and applied on the way into the model, by training (``encoded_splits``) and by a
trained run's ``predict`` alike, as a scikit-learn Pipeline owns its scaler. So ``run.predict(data.x_test)``
is what the run recorded for its test rows.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(100, 3)); y = (x[:, 0] > 0).astype(np.int32)
>>> d = Dataset.from_arrays(x, y, task="multiclass"); d.task, d.num_classes, d.x_train.dtype, len(d.x_val)
('multiclass', 2, torch.float32, 20)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

TASKS = ("multiclass", "binary", "regression")


@dataclass
class Dataset:
    """Splits (x: float32 tensors as given, a table's rows as a pyarrow Table; y: int64 class indices, float32
    (N, 1) for binary/regression, standardised by ``target_stats`` for a regression)."""

    name: str
    task: str                      # "multiclass" | "binary" | "regression"
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor | None
    y_val: Tensor | None
    x_test: Tensor | None
    y_test: Tensor | None
    input_shape: tuple[int, ...]   # one sample's shape, e.g. (28, 28) or (64,)
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    image_shape: tuple[int, int] | None = None  # how to show one sample as a picture, when it is one
    feature_stats: tuple[Tensor, Tensor] | None = None  # (mean, scale), float64: the model takes (x − mean) / scale
    target_stats: tuple[Tensor, Tensor] | None = None   # the same for regression targets
    labels: str = "index"          # the labels the user gave: class "index" 0..C−1, or class "name" (strings)
    columns: object | None = None  # a table's fitted column preprocessor (mlplab.data.columns.Columns)
    test_table: object | None = None  # a table's first test rows as read, before encoding (a pyarrow Table)
    _encoded: dict = field(default_factory=dict, repr=False, compare=False)  # split -> (x it was made of, encoded)

    def summary(self) -> list[str]:
        """Three short lines: name and task with its classes, rows per split, one row's shape."""
        names = self.class_names or ()
        classes = (f", {len(names)} classes: {', '.join(names[:6])}{', …' if len(names) > 6 else ''}"
                   if names else f", {self.num_classes} classes" if self.num_classes else "")
        rows = " · ".join(f"{s} {len(x):,}" for s in ("train", "val", "test")
                          if (x := getattr(self, f"x_{s}")) is not None and len(x))
        if self.columns is not None:  # a table: its columns as read, encoded to the model's features
            shape = (f"{getattr(self.x_train, 'num_columns', '?')} columns → {self.input_shape[0]} features "
                     "(encoded as fitted on train)")
        else:
            shape = (f"image {self.image_shape[0]}×{self.image_shape[1]}" if self.image_shape
                     else f"input {tuple(self.input_shape)}")
            shape += " · " + ("scaled by the training rows" if self.feature_stats is not None else "as given")
        return [f"Dataset {self.name!r}: {self.task}{classes}", f"rows: {rows}", shape]

    def __repr__(self) -> str:  # a few lines, not every tensor
        return "\n  ".join(self.summary())

    def _repr_html_(self) -> str:
        import html

        first, *rest = self.summary()
        return f"<div><b>{html.escape(first)}</b><br>" + "<br>".join(map(html.escape, rest)) + "</div>"

    @property
    def output_size(self) -> int:
        """Units in the model's last layer: one per class, one for binary, one per regression target."""
        if self.task == "multiclass":
            return self.num_classes
        return self.y_train.shape[1]

    def encode(self, x) -> Tensor:
        """Inputs ``x`` as the model takes them: a table's rows encoded by ``columns``, arrays scaled by
        ``feature_stats`` (float32); what a trained run's Schema does to new rows."""
        if self.columns is not None and not isinstance(x, (Tensor, np.ndarray)):
            from mlplab.data.table import to_arrow

            x = torch.as_tensor(self.columns.transform(to_arrow(x), lambda message: None))
        return standardize(torch.as_tensor(x), self.feature_stats)

    def encoded(self, split: str) -> Tensor | None:
        """Split ``split``'s inputs encoded (``encode``), made once per split and kept while ``x_<split>`` is
        the same object."""
        x = getattr(self, f"x_{split}")
        if x is None:
            return None
        made = self._encoded.get(split)
        if made is None or made[0] is not x:
            made = self._encoded[split] = (x, self.encode(x))
        return made[1]

    def encoded_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        """The non-empty splits by name, ``train``, ``val`` and ``test``, inputs encoded as the model takes them."""
        out = {}
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x is not None and len(x) and (split == "train" or y is not None):
                out[split] = (self.encoded(split), y)
        return out

    @classmethod
    def from_arrays(cls, x, y, *, task: str | None = None, x_val=None, y_val=None, val_fraction: float = 0.2,
                    x_test=None, y_test=None, test_fraction: float = 0.0, seed: int = 0,
                    class_names=None, standardize: bool = True, name: str = "arrays") -> Dataset:
        """A Dataset from your own arrays: ``x`` (N, D) or (N, H, W) numbers, ``y`` (N,) labels or (N, T) targets.

        ``task`` (``multiclass``, ``binary``, ``regression``) is inferred when None: integer, bool or string
        labels are classes (two classes 0/1: ``binary``), float targets ``regression``. Class labels must be
        0..C−1 (strings are mapped to sorted class names). Validation and test rows come from ``x_val``/
        ``x_test`` when given, else from seeded splits of ``x`` (``val_fraction``, ``test_fraction`` of all
        rows; stratified by class). The inputs stay as given (float32); with ``standardize`` the model takes
        them scaled by the training rows' mean and standard deviation (``feature_stats``), and regression
        targets are standardised likewise (``target_stats``).
        """
        x, y = _as_array(x, "x"), _as_array(y, "y")
        _check_xy(x, y, "x", "y")
        by_name = y.dtype.kind in "US" or y.dtype == object
        task, y, names = _labels(y, task, class_names)
        parts = {"train": (x, y)}
        for split, xs, ys in (("val", x_val, y_val), ("test", x_test, y_test)):
            if (xs is None) != (ys is None):
                raise ValueError(f"give both x_{split} and y_{split}, or neither; got only "
                                 f"{'x' if ys is None else 'y'}_{split}")
            if xs is not None:
                xs, ys = _as_array(xs, f"x_{split}"), _as_array(ys, f"y_{split}")
                _check_xy(xs, ys, f"x_{split}", f"y_{split}")
                if xs.shape[1:] != x.shape[1:]:
                    raise ValueError(f"x_{split} rows have shape {xs.shape[1:]}, x rows {x.shape[1:]}; they must match")
                parts[split] = (xs, _labels(ys, task, names, split=split)[1])
        fractions = {"test": 0.0 if "test" in parts else test_fraction, "val": 0.0 if "val" in parts else val_fraction}
        for key, f in fractions.items():
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < 1:
                raise ValueError(f"{key}_fraction must be a number in [0, 1); got {f!r}")
        if fractions["test"] + fractions["val"] >= 1:
            raise ValueError(f"val_fraction + test_fraction must be below 1; got {fractions['val']} + {fractions['test']}")
        x_tr, y_tr = x, y
        for split in ("test", "val"):  # fractions are of all rows given in x
            if fractions[split] > 0:
                share = fractions[split] / (1 - (fractions["test"] if split == "val" else 0))
                x_tr, y_tr, parts[split] = _split(x_tr, y_tr, share, task, seed, split, len(x))
        parts["train"] = (x_tr, y_tr)
        if len(x_tr) == 0:
            raise ValueError("the training split is empty; lower val_fraction/test_fraction or give more rows")
        x_stats = y_stats = None
        if standardize:
            x_stats = fit_stats(x_tr.reshape(len(x_tr), -1))
            if task == "regression":
                y_stats = fit_stats(y_tr.reshape(len(y_tr), -1))
        data = cls(name, task, *[None] * 6, input_shape=tuple(x.shape[1:]), feature_stats=x_stats,
                   target_stats=y_stats, num_classes=len(names) if task == "multiclass" else None,
                   class_names=names, image_shape=tuple(x.shape[1:]) if x.ndim == 3 else None,
                   labels="name" if by_name else "index")
        for split, (xs, ys) in parts.items():
            setattr(data, f"x_{split}", torch.as_tensor(xs))  # as given: float64 stays float64
            setattr(data, f"y_{split}", targets(ys, task, y_stats))
        return data


    @classmethod
    def from_table(cls, data, target: str, **options) -> Dataset:
        """A Dataset from a CSV/TSV/Parquet/npy/npz file (or a DataFrame, a pyarrow Table) and its target
        column, read, split and encoded by mlplab.data.tabular.read_splits (its keywords: task, categorical,
        numeric, drop, keep, allow_leak, na_values, test, val_fraction, test_fraction, seed, name, rows, log).
        ``x_<split>`` hold the rows as given (pyarrow); the encoding fitted on the training rows is ``columns``.
        """
        from mlplab.data.tabular import read_splits

        t = read_splits(data, target, **options)
        held = {f"{k}_{s}": (t.x[s] if k == "x" else t.y[s]) if len(t.y[s]) else None
                for s in ("val", "test") for k in ("x", "y")}
        out = cls.from_arrays(t.x["train"], t.y["train"], task=t.target.task, val_fraction=0.0, test_fraction=0.0,
                              class_names=t.target.class_names, standardize=False, name=t.name, **held)
        if t.target.task == "regression":  # standardised targets, as from_arrays does; predict maps back
            out.target_stats = fit_stats(t.y["train"].reshape(-1, 1))
            for s in ("train", "val", "test"):
                if getattr(out, f"y_{s}") is not None:
                    setattr(out, f"y_{s}", targets(t.y[s], "regression", out.target_stats))
        else:
            out.labels = "name"
        out.columns, out.test_table = t.columns, t.raw_test
        for s, rows in t.rows.items():  # the rows as given; the encoding made while reading is kept, the
            if getattr(out, f"x_{s}") is not None:  # training rows' with their out-of-fold target means
                out._encoded[s] = (rows, getattr(out, f"x_{s}"))
                setattr(out, f"x_{s}", rows)
        return out

    @classmethod
    def from_frame(cls, frame, target: str, **options) -> Dataset:
        """``from_table`` for a pandas DataFrame or a pyarrow Table already in memory."""
        if isinstance(frame, (str, Path)):
            raise TypeError("from_frame takes a DataFrame or a pyarrow Table; for a file use from_table(path, target=...)")
        return cls.from_table(frame, target, **options)


def standardize(x: Tensor, stats: tuple[Tensor, Tensor] | None) -> Tensor:
    """``(x − mean) / scale`` per feature in float64, then float32 (as StandardScaler.transform, bit for bit);
    ``x`` as float32 when there are no statistics. Training and ``Run.predict`` both go through here."""
    if stats is None:  # floating inputs keep their dtype (the loop casts to the model's); others become float32
        return x if x.is_floating_point() else x.float()
    mean, scale = stats
    return ((x.reshape(len(x), -1).double() - mean) / scale).float().reshape(x.shape)


def fit_stats(x: np.ndarray) -> tuple[Tensor, Tensor]:
    """Per-column (mean, standard deviation) in float64, a constant column's scale 1 (as StandardScaler)."""
    x = np.asarray(x, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1)] = 1.0
    return torch.as_tensor(mean), torch.as_tensor(std)


def targets(y: np.ndarray, task: str, stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Labels as the losses take them: int64 (N,) class indices, else float32 (N, T) (standardised by ``stats``)."""
    if task == "multiclass":
        return torch.as_tensor(np.array(y, dtype=np.int64))  # a copy: y may be a read-only view (pyarrow, memmap)
    t = torch.as_tensor(np.array(y, dtype=np.float64)).reshape(len(y), -1)
    if stats is not None:
        t = (t - stats[0]) / stats[1]
    return t.float()


def _as_array(value, what: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except ValueError as e:  # ragged lists
        raise ValueError(f"{what} must be a rectangular array; {e}") from None
    if arr.ndim == 0:
        raise ValueError(f"{what} must be an array of samples; got the scalar {value!r}")
    return arr if arr.flags.writeable else arr.copy()  # a read-only view (a memmap): torch needs its own copy


def _check_xy(x: np.ndarray, y: np.ndarray, xn: str, yn: str) -> None:
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{xn} must hold numbers; got dtype {x.dtype} (encode text columns first, e.g. "
                        "Dataset.from_frame or pandas.get_dummies)")
    if x.ndim < 2:
        raise ValueError(f"{xn} must be 2-D (samples, features) or more; got shape {x.shape}: "
                         f"use {xn}.reshape(-1, 1) for one feature")
    if len(x) != len(y):
        raise ValueError(f"{xn} has {len(x)} rows but {yn} has {len(y)}; they must have one label per row")
    if len(x) == 0:
        raise ValueError(f"{xn} has no rows")
    for arr, n in ((x, xn), (y, yn)):
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr)).tolist()
            raise ValueError(f"{n} holds {len(bad)} NaN or infinite values (first at index {tuple(bad[0])}); "
                             "drop or impute those rows first")


def _labels(y: np.ndarray, task: str | None, class_names=None, split: str = "train"):
    """(task, labels as numbers, class names or None); checks labels are 0..C−1."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} or None (inferred); got {task!r}")
    if task is None:
        task = "regression" if y.dtype.kind == "f" else "classification"
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise TypeError(f"regression targets must be numbers; got dtype {y.dtype}")
        return task, y.astype(np.float64), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"class labels must be one per row (shape (N,)); got shape {y.shape}")
    names = tuple(str(n) for n in class_names) if class_names is not None else None
    if y.dtype.kind in "US" or y.dtype == object:
        found = sorted(set(y.tolist())) if split == "train" else None
        names = names or tuple(map(str, found))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted({str(v) for v in y.tolist()} - set(index))
        if unknown:
            raise ValueError(f"{split} labels {unknown[:5]} are not among the classes {list(names)[:10]}")
        y = np.array([index[str(v)] for v in y.tolist()], dtype=np.int64)
    elif y.dtype.kind == "f":
        if not np.array_equal(y, np.round(y)):
            raise ValueError(f"class labels must be whole numbers; got {y[y != np.round(y)][:3].tolist()}...; "
                             "pass task='regression' for continuous targets")
        y = y.astype(np.int64)
    elif y.dtype.kind == "b":
        y = y.astype(np.int64)
    found = np.unique(y)
    if split == "train":
        n = len(names) if names is not None else int(found.max()) + 1
        if found.min() < 0 or (names is None and not np.array_equal(found, np.arange(n))):
            raise ValueError(f"class labels must be 0..C−1 with every class present; found {_show(found)}; map "
                             "them with `classes, y = np.unique(y, return_inverse=True)` (classes gives the names)")
        if n < 2:
            raise ValueError(f"classification needs at least 2 classes; y holds only {_show(found)}")
        if task == "classification":
            task = "binary" if n == 2 else "multiclass"
        if task == "binary" and n != 2:
            raise ValueError(f"task 'binary' needs labels 0 and 1; found {_show(found)}")
        names = names or tuple(str(i) for i in range(n))
    elif found.min() < 0 or found.max() >= len(names):
        raise ValueError(f"{split} labels must be in 0..{len(names) - 1} like the training labels; found {_show(found)}")
    if task == "classification":
        task = "multiclass"
    return task, y, names


def _show(values: np.ndarray) -> str:
    values = values.tolist()
    return str(values) if len(values) <= 8 else f"{values[:4]} ... {values[-2:]} ({len(values)} values)"


def _split(x, y, fraction: float, task: str, seed: int, split: str, total: int):
    from mlplab.data.split import train_test_rows

    n = round(fraction * len(x))
    if n == 0 or n == len(x):
        raise ValueError(f"{split}_fraction leaves an empty split ({len(x)} rows of {total}); change it, or "
                         f"give x_{split}/y_{split}")
    try:
        rest, out = train_test_rows(y, n, seed, stratify=task != "regression")
    except ValueError as e:
        raise ValueError(f"cannot split off a stratified {split} set: {e}; give x_{split}/y_{split} or more "
                         "rows per class") from None
    return x[rest], y[rest], (x[out], y[out])
