"""mlplab.data.tabular: the lean path from a file to a Dataset gives what the plain one gives (filter the
labelled rows, split with scikit-learn, fit on a copy of the training rows, encode a copy of each split),
and a generated numeric CSV goes from file to Dataset in at most 3× its float32 array of memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from mlplab.data.columns import Columns
from mlplab.data.csv_stream import BLOCK_BYTES
from mlplab.data.table import read_table
from mlplab.data.cells import codes_of
from mlplab.data.tabular import split_rows
from mlplab.data.dataset import Dataset
from_table = Dataset.from_table
from mlplab.data.target import Target

REPO = Path(__file__).resolve().parents[1]


def mixed_csv(path: Path, n: int, seed: int = 0) -> Path:
    """Floats with missing cells, integers, text categories, a 3-class target with missing cells, a float."""
    rng = np.random.default_rng(seed)
    rows = ["a,b,k,s,y,r"]
    for _ in range(n):
        rows.append(",".join([
            "" if rng.random() < 0.1 else f"{rng.normal():.5f}", str(int(rng.integers(-500, 500))),
            str(int(rng.integers(0, 4))), str(rng.choice(["u", "v", "w", "NA"])),
            "" if rng.random() < 0.05 else str(rng.choice(["p", "q", "r"])), f"{rng.normal() * 3:.4f}"]))
    path.write_text("\n".join(rows) + "\n")
    return path


def plain(path, target, seed, **options):
    """The reference: every split a copy of the table's rows, statistics fitted on the training copy."""
    from sklearn.model_selection import train_test_split

    table = read_table(path)
    table = table.filter(table.column(target).is_valid())
    spec = Target.detect(table.column(target), target)
    y = spec.encode(table.column(target))
    strat = y if spec.task != "regression" else None
    rest, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=strat)
    train, val = train_test_split(rest, test_size=0.15 / 0.8, random_state=seed,
                                  stratify=None if strat is None else y[rest])
    columns = Columns.fit(table.take(train), spec, **options)
    return {s: (columns.transform(table.take(rows), lambda m: None), y[rows])
            for s, rows in (("train", train), ("val", val), ("test", test))}


@pytest.mark.parametrize("target, options", [("y", {}), ("r", {"drop": ["y"]}), ("y", {"scaling": "standard"})])
@pytest.mark.parametrize("seed", [0, 1])
def test_from_table_gives_the_plain_paths_numbers_bit_for_bit(tmp_path, target, options, seed):
    path = mixed_csv(tmp_path / "t.csv", 1500, seed)
    d = from_table(path, target, seed=seed, log=lambda m: None, **options)
    for split, (x, y) in plain(path, target, seed, **options).items():
        np.testing.assert_array_equal(d.encoded(split).numpy(), x)
        if target == "y":
            np.testing.assert_array_equal(getattr(d, f"y_{split}").numpy(), y)


# --- memory ----------------------------------------------------------------------------------------------

PEAK = """
import sys
import torch, pyarrow, mlplab
from mlplab.data.cells import codes_of
from mlplab.data.tabular import split_rows
from mlplab.data.dataset import Dataset
from_table = Dataset.from_table

from_table(sys.argv[2], "y", log=lambda m: None)  # first use: the libraries' code, the allocators' set-up

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

base = rss()
with open("/proc/self/clear_refs", "w") as f:  # the high-water mark starts again from here
    f.write("5")
data = from_table(sys.argv[1], "y", log=lambda m: None)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(peak - base, len(data.x_train) + len(data.x_val) + len(data.x_test))
"""


def numbers_csv(path: Path, rows: int, seed: int) -> Path:
    from pyarrow import csv as pcsv

    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(rows, 19)), 4)
    y = (x @ rng.normal(size=19) > 0).astype(np.int64)
    pcsv.write_csv(pa.table([*x.T, y], names=[f"x{j}" for j in range(19)] + ["y"]), path)
    return path


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_a_numeric_csv_becomes_a_dataset_in_three_float32_arrays_of_memory(tmp_path):
    """200,000 × 20 numbers: float32 array 16 MB; a float64 table is 32 MB. The Dataset keeps the rows as
    given (one float64 table, split) beside the encoded float32 matrix, so one more copy of either fails this.

    The allowance: pyarrow's CSV reader reads 32 blocks ahead of the one it parses (a fixed queue, 8 MB at
    BLOCK_BYTES = 256 KB), plus 8 MB for one block's parse and the allocators' pages. Measured: about 53 MB
    before the Dataset kept the rows as given, 80 MB with them, of the 96 allowed."""
    rows = 200_000
    big, small = numbers_csv(tmp_path / "big.csv", rows, 0), numbers_csv(tmp_path / "small.csv", 2_000, 1)
    r = subprocess.run([sys.executable, "-c", PEAK, str(big), str(small)], capture_output=True, text=True,
                       check=False, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    peak, n = map(int, r.stdout.split())
    float32 = rows * 20 * 4
    allowance = 32 * BLOCK_BYTES + 8 * 2**20
    assert n == rows
    as_given = 2 * float32                          # the float64 rows the Dataset holds as x_train, x_val, x_test
    assert peak <= 3 * float32 + as_given + allowance, f"peak {peak / 1e6:.0f} MB > 5 × {float32 / 1e6:.0f} MB + allowance"


def test_from_table_says_each_choice_in_one_line_and_trains_on_out_of_fold_target_means():
    """An ID dropped (kept with keep=), dates read as parts, money as numbers, a 5,000-level category with
    its target means: the training rows' from the other folds, every other row's from all training rows."""
    rng = np.random.default_rng(0)
    n = 6000
    days = rng.integers(0, 2000, n)
    frame = pa.table({"customer_id": np.arange(n) + 1,
                      "signup": [str(np.datetime64("2018-01-01") + d) for d in days],
                      "spend": [f"${v:,.2f}" for v in rng.integers(0, 10**7, n) / 100],
                      "shop": [f"s{v}" for v in rng.integers(0, 5000, n)], "y": rng.normal(size=n)})
    said = []
    d = from_table(frame, "y", seed=0, log=said.append)
    assert ("customer_id: dropped, unique per row (a row ID: consecutive integers); keep it with "
            "--keep customer_id") in said
    assert any(line.startswith("signup: dates (") for line in said)
    assert any(line.startswith("spend: numbers with units ($) read as numeric") for line in said)
    assert any(line.startswith("shop: ") and "levels also encoded by their smoothed target mean" in line
               for line in said)
    c = d.columns
    train_rows, val_rows, _ = split_rows(frame.column("y").to_numpy(), "regression", 0.15, 0.2, 0)  # from_table's
    names = [col.name for col in c.columns]
    j = sum(col.width for col in c.columns[:names.index("shop.mean")])
    k = [col.name for col in c.columns if col.kind == "numeric"].index("shop.mean")
    oof = c.out_of_fold_["shop.mean"].copy()
    levels = c.columns[names.index("shop.mean")].levels
    full = c.means["shop.mean"][codes_of(frame.column("shop").take(train_rows), levels)[0]]
    assert np.abs(oof - full).mean() > 0.05  # a row's own target is not in its encoding
    c.scale_(oof, k)
    np.testing.assert_allclose(d.encoded("train").numpy()[:, j], oof, rtol=1e-6)
    again = c.transform(frame.take(val_rows), lambda m: None)  # the other rows: the means of all training rows
    np.testing.assert_array_equal(d.encoded("val").numpy(), again)
    kept = from_table(frame, "y", seed=0, keep=["customer_id"], log=lambda m: None)
    assert "customer_id" in [col.name for col in kept.columns.columns]
