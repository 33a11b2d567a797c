"""Wall seconds and peak memory of a big numeric CSV through mlplab: read, Dataset, one epoch (run by hand).

The issue's bar: a 2,000,000-row × 20-column CSV loads and trains without a Python object per cell, the peak
memory it adds at most 3× its float32 array (2M × 20 × 4 B = 160 MB, so 480 MB). The file: 19 float features
(normal, 4 decimals) and a 0/1 target from a noisy linear rule, seeded, written by pyarrow into a temporary
folder (or ``--csv PATH``, reused when it exists).

Every stage runs in a fresh subprocess: it imports torch, pyarrow and mlplab, reads its RSS (the baseline),
resets the kernel's high-water mark (/proc/self/clear_refs), runs the stage, and reports the peak two ways:
the high-water mark (``hwm``: exact, what ``ru_maxrss`` reports for a process that starts there) and the
largest RSS a thread saw sampling every 2 ms (``sampled``). Stages:

- ``pyarrow``, ``pandas``, ``polars``: the readers alone on the same file (``pyarrow.csv.read_csv``,
  ``pandas.read_csv``, ``polars.read_csv``; skipped when not installed): which reader to use, by measurement.
- ``read``: ``mlplab.data.table.read_table`` (the pyarrow Table from_table starts from).
- ``from_table``: ``Dataset.from_table(path, "y")``: read, split, fit the column preprocessor, encode.
- ``train``: the same, then ``mlplab.train(data, epochs=1, hidden=(64,), early_stopping=None, device="cpu")``.

Then diamonds.csv ($MLPLAB_TABULAR, else ../shared/data/tabular): ``read_table`` and ``from_table`` wall
seconds, in-process, fastest of ``--repeats``. Peaks are in MB (10⁶ bytes); the ratio is peak / float32 array.

    OMP_NUM_THREADS=1 python benchmarks/bench_table_memory.py [--rows 2000000] [--csv big.csv]
        [--stages pyarrow,pandas,read,from_table,train] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COLUMNS = 20  # 19 features + the target
STAGES = ("pyarrow", "pandas", "polars", "read", "from_table", "train")
MB = 1e6


def write_csv(path: Path, rows: int, seed: int = 0, chunk: int = 250_000) -> None:
    """``rows`` × 20 numbers (x1..x19 floats to 4 decimals, y in {0, 1}), written in chunks by pyarrow."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    rng = np.random.default_rng(seed)
    w = rng.normal(size=COLUMNS - 1)
    names = [f"x{j + 1}" for j in range(COLUMNS - 1)] + ["y"]
    tmp = path.with_suffix(".part")
    with pcsv.CSVWriter(tmp, pa.schema([(n, pa.float64()) for n in names[:-1]] + [("y", pa.int64())])) as out:
        for start in range(0, rows, chunk):
            x = np.round(rng.normal(size=(min(chunk, rows - start), COLUMNS - 1)), 4)
            y = (x @ w + rng.normal(size=len(x)) > 0).astype(np.int64)
            out.write_table(pa.table([*x.T, y], names=names))
    tmp.rename(path)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def high_water() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def stage(name: str, path: Path) -> dict:
    """Run one stage here (a fresh process): seconds, baseline RSS and the peak above it."""
    import pyarrow  # noqa: F401  the baseline holds what every stage imports
    import torch

    import mlplab
    from mlplab.data.table import read_table
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    torch.set_num_threads(1)
    base = rss()
    with open("/proc/self/clear_refs", "w") as f:  # the high-water mark restarts at the current RSS
        f.write("5")
    seen, done = [base], threading.Event()

    def sample():
        while not done.wait(0.002):
            seen[0] = max(seen[0], rss())

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    if name == "pyarrow":
        from pyarrow import csv as pcsv

        result = pcsv.read_csv(path)
    elif name == "pandas":
        import pandas as pd

        result = pd.read_csv(path, engine="c")
    elif name == "polars":
        import polars as pl

        result = pl.read_csv(path)
    elif name == "read":
        result = read_table(path)
    else:
        result = from_table(path, "y", log=lambda m: None)
        if name == "train":
            result = mlplab.train(result, epochs=1, progress="quiet", device="cpu", hidden=(64,), early_stopping=None)
    seconds = time.perf_counter() - t0
    done.set()
    seen[0] = max(seen[0], rss())
    del result
    return {"stage": name, "seconds": seconds, "baseline_mb": base / MB, "hwm_mb": (high_water() - base) / MB,
            "sampled_mb": (seen[0] - base) / MB}


def in_subprocess(name: str, path: Path) -> dict | None:
    r = subprocess.run([sys.executable, __file__, "--stage", name, "--csv", str(path)], capture_output=True,
                       text=True, check=False,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"),
                                                                                     os.environ.get("PYTHONPATH")]))})
    if r.returncode != 0:
        tail = r.stderr.strip().splitlines()[-1:] or ["(no message)"]
        print(f"{name}: skipped ({tail[0]})", flush=True)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def diamonds(repeats: int) -> dict | None:
    from mlplab.data.table import read_table
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    path = Path(os.environ.get("MLPLAB_TABULAR", REPO.parent / "shared" / "data" / "tabular")) / "diamonds.csv"
    if not path.exists():
        print(f"diamonds: skipped ({path} not found; set MLPLAB_TABULAR)")
        return None
    out = {}
    for what, call in (("read_table", lambda: read_table(path)),
                       ("from_table", lambda: from_table(path, "price", log=lambda m: None))):
        times = []
        for _ in range(repeats + 1):  # the first warms the imports and the file cache
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        out[what] = min(times[1:])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--csv", type=Path, help="the CSV to measure (written there first when it does not exist)")
    p.add_argument("--stages", default=",".join(s for s in STAGES if s != "polars"))
    p.add_argument("--repeats", type=int, default=3, help="diamonds timings (fastest of)")
    p.add_argument("--json")
    p.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage in this process
    args = p.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args.csv)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv or Path(tmp) / f"numbers_{args.rows}x{COLUMNS}.csv"
        if not path.exists():
            t0 = time.perf_counter()
            write_csv(path, args.rows)
            print(f"wrote {path} ({path.stat().st_size / MB:.0f} MB) in {time.perf_counter() - t0:.1f} s", flush=True)
        with open(path, "rb") as f:
            rows = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b"")) - 1
        f32 = rows * COLUMNS * 4 / MB
        print(f"{rows:,} rows × {COLUMNS} columns: float32 array {f32:.0f} MB; bar 3× = {3 * f32:.0f} MB")
        print(f"{'stage':<11} {'seconds':>8} {'baseline MB':>12} {'peak MB (hwm)':>14} {'sampled':>8} {'× f32':>6}")
        results = []
        for name in args.stages.split(","):
            r = in_subprocess(name, path)
            if r is None:
                continue
            r["ratio"] = r["hwm_mb"] / f32
            results.append(r)
            print(f"{name:<11} {r['seconds']:>8.2f} {r['baseline_mb']:>12.0f} {r['hwm_mb']:>14.0f} "
                  f"{r['sampled_mb']:>8.0f} {r['ratio']:>6.2f}", flush=True)
    d = diamonds(args.repeats)
    if d:
        print(f"diamonds.csv: read_table {d['read_table']:.3f} s, from_table {d['from_table']:.3f} s "
              f"(fastest of {args.repeats})")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "float32_mb": f32, "stages": results, "diamonds": d},
                                              indent=1))


if __name__ == "__main__":
    main()
