"""A Dataset from a table (a file, a pyarrow Table or a pandas DataFrame) and the name of its target column.

Rows without a target are dropped (with a notice); the task comes from the target (mlplab.data.target);
rows are split first (seeded, stratified by class), then the column preprocessor (mlplab.data.columns) is
fitted on the training rows alone and applied to every split. The Dataset carries it (``columns``), so a
run trained on it predicts from tables: ``run.predict(table)`` gives class names or values in target units.

>>> d = from_table("penguins.csv", target="species")          # doctest: +SKIP
>>> d.task, d.class_names, d.input_shape                       # doctest: +SKIP
('multiclass', ('Adelie', 'Chinstrap', 'Gentoo'), (14,))
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mlplab.data.columns import Columns, check_numbers
from mlplab.data.dataset import Dataset, fit_stats, targets
from mlplab.data.table import read_table, to_arrow
from mlplab.data.target import Target

VAL_FRACTION = 0.15   # of all rows, as Dataset.from_arrays counts it
TEST_FRACTION = 0.2


def note(message: str) -> None:
    """Where notices go unless a ``log`` is given: one line on stderr."""
    print(f"mlplab: note: {message}", file=sys.stderr, flush=True)


def load(source, na_values=()) -> tuple:
    """(pyarrow Table, file name or None) from a path, a pyarrow Table or a pandas DataFrame."""
    if isinstance(source, (str, Path)):
        table = read_table(source, na_values)
        check_numbers(table, str(source))
        return table, str(source)
    table = to_arrow(source)
    check_numbers(table)
    return table, None


def labelled_rows(table, target: str, source: str | None, log) -> tuple:
    """``table`` without the rows whose target cell is missing; the target column must exist."""
    import pyarrow.compute as pc

    if target is None or target == "":
        raise ValueError(f"name the target column with --target (target=); the columns: {', '.join(table.column_names)}")
    if target not in table.column_names:
        raise ValueError(f"{source or 'the table'} has no column {target!r} (the --target); its columns: "
                         f"{', '.join(table.column_names)}")
    missing = table.column(target).null_count
    if missing == table.num_rows:
        raise ValueError(f"every cell of the target column {target!r} is missing")
    if missing:
        log(f"dropped {missing} row(s) whose target {target!r} is missing")
        table = table.filter(pc.is_valid(table.column(target)))
    return table


def split_rows(y: np.ndarray, task: str, val_fraction: float, test_fraction: float, seed: int):
    """Row indices (train, val, test), seeded, stratified by class; fractions are of all rows."""
    from sklearn.model_selection import train_test_split

    rows, parts = np.arange(len(y)), {}
    strat = task != "regression"
    rest = rows
    for split, f in (("test", test_fraction), ("val", val_fraction)):
        share = f / (1 - (test_fraction if split == "val" else 0))
        if f <= 0:
            parts[split] = rows[:0]
            continue
        try:
            rest, parts[split] = train_test_split(rest, test_size=share, random_state=seed,
                                                  stratify=y[rest] if strat else None)
        except ValueError as e:
            raise ValueError(f"cannot split {len(y)} rows into training, validation and test sets"
                             f"{' stratified by class' if strat else ''} ({e}); give more rows per class, or a "
                             "separate --test file") from None
    return rest, parts["val"], parts["test"]


def from_table(data, target: str, *, task: str = "auto", categorical=(), numeric=(), drop=(), allow_leak=(),
               na_values=(), test=None, val_fraction: float | None = None, test_fraction: float = TEST_FRACTION,
               seed: int = 0, scaling: str = "robust", name: str | None = None, log=None) -> Dataset:
    """A Dataset from ``data`` (a CSV/TSV/Parquet/npy/npz path, pyarrow Table or pandas DataFrame).

    ``test``: a second table to test on (else ``test_fraction`` of the rows). ``val_fraction``: the share of
    all rows held out for validation and early stopping (default 0.15). The rest: see mlplab.data.columns.
    """
    log = log or note
    val_fraction = VAL_FRACTION if val_fraction is None else val_fraction
    table, source = load(data, na_values)
    table = labelled_rows(table, target, source, log)
    spec = Target.detect(table.column(target), target, task)
    y = spec.encode(table.column(target))
    if test is not None:
        test_table, test_source = load(test, na_values)
        test_table = labelled_rows(test_table, target, test_source, log)
        test_fraction = 0.0
    for key, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"{key} must be in [0, 1); got {f!r}")
    train, val, tst = split_rows(y, spec.task, val_fraction, test_fraction, seed)
    if test is not None:
        tst_x_table, y_test = test_table, spec.encode(test_table.column(target), what=f"test file {test_source}")
    else:
        tst_x_table, y_test = table.take(tst), y[tst]
    columns = Columns.fit(table.take(train), spec, categorical=categorical, numeric=numeric, drop=drop,
                          allow_leak=allow_leak, scaling=scaling)
    for line in columns.report:  # what was chosen and dropped, now; every choice is in the run's columns.md
        if line.startswith("task:") or ": dropped" in line or "kept although" in line:
            log(line)
    quiet = lambda message: None  # rare categories in held-out rows are expected, not news
    x = {"train": columns.transform(table.take(train), quiet), "val": columns.transform(table.take(val), quiet),
         "test": columns.transform(tst_x_table, quiet)}
    ys = {"train": y[train], "val": y[val], "test": y_test}
    held = {f"{k}_{s}": (x[s] if k == "x" else ys[s]) if len(ys[s]) else None
            for s in ("val", "test") for k in ("x", "y")}
    name = name or (Path(data).stem if isinstance(data, (str, Path)) else "table")
    out = Dataset.from_arrays(x["train"], ys["train"], task=spec.task, val_fraction=0.0, test_fraction=0.0,
                              class_names=spec.class_names, standardize=False, name=name, **held)
    if spec.task == "regression":  # standardised targets, as from_arrays does; predict maps back
        out.target_stats = fit_stats(ys["train"].reshape(-1, 1))
        for s in ("train", "val", "test"):
            if getattr(out, f"y_{s}") is not None:
                setattr(out, f"y_{s}", targets(ys[s], "regression", out.target_stats))
    else:
        out.labels = "name"
    out.columns, out.test_table = columns, tst_x_table  # raw test rows: what an exported graph is checked on
    return out


def from_frame(frame, target: str, **options) -> Dataset:
    """``from_table`` for a pandas DataFrame or a pyarrow Table already in memory."""
    if isinstance(frame, (str, Path)):
        raise TypeError("from_frame takes a DataFrame or a pyarrow Table; for a file use from_table(path, target=...)")
    return from_table(frame, target, **options)
