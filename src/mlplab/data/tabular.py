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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlplab.data.cells import check_numbers
from mlplab.data.columns import Columns
from mlplab.data.csv_stream import release_memory
from mlplab.data.split import train_test_rows
from mlplab.data.table import read_table, to_arrow
from mlplab.data.target import Target

VAL_FRACTION = 0.15   # of all rows, as Dataset.from_arrays counts it
TEST_FRACTION = 0.2
RAW_TEST_ROWS = 1000  # test rows kept as read (Dataset.test_table): what an export of the run is checked on
SPLITS = ("train", "val", "test")
SAID = (": dropped", "kept although", "read as", "encoded by")  # the report lines said as a table is read


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


def labelled_rows(table, target: str, source: str | None, log) -> np.ndarray:
    """Which rows of ``table`` have their target cell, as a (N,) bool mask; the target column must exist."""
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
    return table.column(target).is_valid().to_numpy(zero_copy_only=False)


def split_rows(y: np.ndarray, task: str, val_fraction: float, test_fraction: float, seed: int):
    """Row indices (train, val, test), seeded, stratified by class; fractions are of all rows."""
    rest, parts = None, {}  # None: every row
    strat = task != "regression"
    for split, f in (("test", test_fraction), ("val", val_fraction)):
        share = f / (1 - (test_fraction if split == "val" else 0))
        if f <= 0:
            parts[split] = np.arange(0)
            continue
        try:
            kept, held = train_test_rows(y if rest is None else y[rest], share, seed, strat)
        except ValueError as e:
            raise ValueError(f"cannot split {len(y)} rows into training, validation and test sets"
                             f"{' stratified by class' if strat else ''} ({e}); give more rows per class, or a "
                             "separate --test file") from None
        rest, parts[split] = (kept, held) if rest is None else (rest[kept], rest[held])
    return np.arange(len(y)) if rest is None else rest, parts["val"], parts["test"]


def pool_rows(data, target: str, *, task: str = "auto", na_values=(), test=None,
              test_fraction: float = TEST_FRACTION, seed: int = 0) -> tuple[np.ndarray, str, np.ndarray, np.ndarray]:
    """For K folds over a table: the labels of its pool (the rows left after the test rows), the task, the pool's
    positions and the test rows' positions, among the labelled rows; the test rows are those ``from_table``
    would hold out with this ``seed`` (none when ``test`` names a test file)."""
    table, source = load(data, na_values)
    labels = table.column(target).filter(labelled_rows(table, target, source, lambda message: None))
    spec = Target.detect(labels, target, task)
    y = spec.encode(labels)
    pool, _, test_rows = split_rows(y, spec.task, 0.0, 0.0 if test is not None else test_fraction, seed)
    return y[pool], spec.task, pool, test_rows


@dataclass
class TableSplits:
    """A table read and split, its columns fitted on the training rows: what ``Dataset.from_table`` holds."""

    name: str
    target: Target
    columns: Columns
    x: dict          # split -> float32 (N, width) encoded rows (the training rows' with out-of-fold target means)
    y: dict          # split -> the targets as Target.encode gives them
    rows: dict       # split -> the rows as given (a pyarrow Table, the target dropped)
    raw_test: object  # the first test rows as read, target included: what an exported graph is checked on


def read_splits(data, target: str, *, task: str = "auto", categorical=(), numeric=(), drop=(), allow_leak=(),
                keep=(), na_values=(), test=None, val_fraction: float | None = None,
                test_fraction: float = TEST_FRACTION, seed: int = 0, scaling: str = "robust", name: str | None = None,
                rows: dict | None = None, log=None) -> TableSplits:
    """``data`` (a CSV/TSV/Parquet/npy/npz path, pyarrow Table or pandas DataFrame) read, split and encoded:
    ``Dataset.from_table`` makes a Dataset of it.

    ``test``: a second table to test on (else ``test_fraction`` of the rows). ``val_fraction``: the share of
    all rows held out for validation and early stopping (default 0.15). ``rows``: the ``train``, ``val`` and
    ``test`` rows given instead (positions among the labelled rows, as ``pool_rows`` gives them: a K-fold
    split). ``keep``: columns kept although they look like a row ID. The rest: see mlplab.data.columns.
    """
    log = log or note
    val_fraction = VAL_FRACTION if val_fraction is None else val_fraction
    table, source = load(data, na_values)
    labelled = labelled_rows(table, target, source, log)
    labels = table.column(target).filter(labelled)
    spec = Target.detect(labels, target, task)
    y = spec.encode(labels)
    del labels
    release_memory()
    if test is not None:
        same_rows(data, test)
        test_table, test_source = load(test, na_values)
        test_labelled = labelled_rows(test_table, target, test_source, log)
        test_fraction = 0.0
    for key, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"{key} must be in [0, 1); got {f!r}")
    if rows is None:
        picks = dict(zip(SPLITS, split_rows(y, spec.task, val_fraction, test_fraction, seed)))
    else:
        picks = {split: np.asarray(rows.get(split, ()), dtype=np.int64) for split in SPLITS}
    ys = {s: y[i] for s, i in picks.items()}
    del y
    if not labelled.all():  # positions among the labelled rows → rows of the table
        rows = np.flatnonzero(labelled)
        picks = {s: rows[i] for s, i in picks.items()}
        del rows
    if test is not None:
        test_table = test_table.filter(test_labelled)
        ys["test"] = spec.encode(test_table.column(target), what=f"test file {test_source}")
    columns = Columns.fit(table, spec, rows=picks["train"], categorical=categorical, numeric=numeric, drop=drop,
                          allow_leak=allow_leak, keep=keep, scaling=scaling, seed=seed)
    for line in columns.report:  # what was chosen and dropped, now; every choice is in the run's columns.md
        if line.startswith("task:") or any(says in line for says in SAID):
            log(line)
    quiet = lambda message: None  # rare categories in held-out rows are expected, not news
    if test is not None:
        x_test = columns.transform(test_table, quiet)
        raw_test = test_table.slice(0, RAW_TEST_ROWS)
        test_rows_as_given = test_table.drop_columns([target])
        del test_table
    else:
        raw_test = table.take(picks["test"][:RAW_TEST_ROWS])
    # Every row encoded once, column by column into a column-major matrix while the table's columns are let go
    # (the table is the only float64 copy: 2x the float32 matrix), then each split's rows gathered row-major.
    features = table.drop_columns([target])  # the rows as given, without the target: the Dataset's x_<split>
    raw = {s: features.take(i) for s, i in picks.items()}
    if test is not None:
        raw["test"] = test_rows_as_given
    del features
    cells = dict(zip(table.column_names, table.columns))
    del table
    encoded = columns.encode(cells, quiet, order="F")
    x = {s: take_rows(encoded, i) for s, i in picks.items()}
    del encoded
    columns.out_of_fold(x["train"])  # the training rows' target means from the other folds (target_encoding)
    if test is not None:
        x["test"] = x_test
    name = name or (Path(data).stem if isinstance(data, (str, Path)) else "table")
    return TableSplits(name, spec, columns, x, ys, raw, raw_test)


def same_rows(data, test) -> None:
    """Refuse a --test file that is the --data file itself (the same file, or a copy of its bytes): the test
    rows would be training rows and the test metrics a measure of memory."""
    import filecmp
    import os

    if not (isinstance(data, (str, Path)) and isinstance(test, (str, Path))):
        return
    try:
        same = os.path.samefile(data, test) or filecmp.cmp(data, test, shallow=False)
    except OSError:
        return  # a missing file is named when it is read
    if same:
        raise ValueError(f"--test {test} holds the same rows as --data {data} (the same file, or the same bytes); "
                         "the test rows must be rows the model never trained on: give another file, or leave "
                         "--test out to hold out 20% of --data")


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` as a row-major array, gathered a column at a time (``x`` may be column-major)."""
    out = np.empty((len(rows), x.shape[1]), x.dtype)
    for j in range(x.shape[1]):
        out[:, j] = x[rows, j]
    return out
