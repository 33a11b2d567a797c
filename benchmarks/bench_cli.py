"""How long the CLI takes to start, as whole processes, against ``python -c "import torch"`` in the same run.

Each command runs ``--repeats`` times (after one warm-up), alternating with the reference, so a machine whose
speed drifts slows both alike; the ratio is of the medians. Measured:

- ``mlplab --help`` and every subcommand's ``--help`` (bar: 0.1x of importing torch);
- ``mlplab predict RUN --data penguins.csv --out preds.csv`` on a saved run of the penguins table (bar: 1.5x);
- ``mlplab train --data penguins.csv --target species --quiet``: its start-up overhead, the process's wall time
  minus the training seconds its metrics.json reports (bar: 1.5x). The table is $MLPLAB_TABULAR/penguins.csv
  (else ../shared/data/tabular beside the repo); without it the train and predict rows are skipped, saying so.

    OMP_NUM_THREADS=1 python benchmarks/bench_cli.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLPLAB = [sys.executable, "-m", "mlplab"]
REFERENCE = [sys.executable, "-c", "import torch"]
BARS = {"help": 0.1, "predict": 1.5, "train start-up": 1.5}


def wall(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return seconds


def train_overhead(table: Path, out: Path) -> float:
    """Wall seconds of a train process minus the training seconds it reports."""
    shutil.rmtree(out, ignore_errors=True)
    seconds = wall([*MLPLAB, "train", "--data", str(table), "--target", "species", "--quiet", "--out", str(out)], out.parent)
    (metrics,) = out.glob("*/metrics.json")
    return seconds - json.loads(metrics.read_text())["train_seconds"]


def paired(measure, repeats: int, cwd: Path) -> tuple[list[float], list[float]]:
    """``measure()`` and the reference, alternately, after one warm-up of each."""
    measure(), wall(REFERENCE, cwd)
    ours, ref = [], []
    for _ in range(repeats):
        ours.append(measure())
        ref.append(wall(REFERENCE, cwd))
    return ours, ref


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", help="write every timing here")
    args = p.parse_args()
    table = Path(os.environ.get("MLPLAB_TABULAR", REPO.parent / "shared" / "data" / "tabular")) / "penguins.csv"
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        tmp = Path(tmp)
        from mlplab.cli.main import COMMANDS

        rows["mlplab --help"] = ("help", *paired(lambda: wall([*MLPLAB, "--help"], tmp), args.repeats, tmp))
        for name in (m.rpartition(".")[2] for m in COMMANDS):
            rows[f"mlplab {name} --help"] = ("help", *paired(lambda n=name: wall([*MLPLAB, n, "--help"], tmp), 1, tmp))
        if table.is_file():
            run_parent = tmp / "saved"
            wall([*MLPLAB, "train", "--data", str(table), "--target", "species", "--quiet", "--out", str(run_parent)], tmp)
            (run,) = run_parent.iterdir()
            predict = [*MLPLAB, "predict", str(run), "--data", str(table), "--out", str(tmp / "preds.csv"), "--force"]
            rows["mlplab predict (penguins run)"] = ("predict", *paired(
                lambda: (Path(tmp / "preds.csv").unlink(missing_ok=True), wall(predict, tmp))[1], args.repeats, tmp))
            rows["mlplab train --data penguins.csv: start-up (wall - training)"] = ("train start-up", *paired(
                lambda: train_overhead(table, tmp / "runs"), args.repeats, tmp))
        else:
            print(f"skipped predict and train: {table} not found (set MLPLAB_TABULAR)", file=sys.stderr)
    print(f"reference: `python -c \"import torch\"`; medians of {args.repeats} runs each (subcommand --help: 1), "
          "alternating with the reference\n")
    print("| command | seconds | import torch | ratio | bar |")
    print("|---|---|---|---|---|")
    result = {}
    for name, (kind, ours, ref) in rows.items():
        ratio = statistics.median(ours) / statistics.median(ref)
        ok = "✓" if ratio <= BARS[kind] else "✗"
        print(f"| {name} | {statistics.median(ours):.2f} | {statistics.median(ref):.2f} | {ratio:.2f} | "
              f"≤ {BARS[kind]} {ok} |")
        result[name] = {"kind": kind, "seconds": ours, "reference": ref, "ratio": ratio, "bar": BARS[kind]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
