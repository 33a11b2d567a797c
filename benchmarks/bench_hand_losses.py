"""Epoch seconds of a table-sized MLP by hand and by autograd, for the losses tables train with (run by hand).

The table default's network (3×256 ReLU, Adam lr 5e-4, batch 256; mlplab.training.presets) with dropout 0.15
and 0, on two random problems of the sizes of the reference tables: regression (35,000 × 29, mse) and binary
(29,000 × 50, bce_with_logits with label smoothing 0.1). Each (problem, dropout, path) trains ``--epochs``
epochs through ``mlplab.train`` with no validation split, so an epoch's ``seconds`` is training alone; the
first epoch is a warm-up and dropped. Runs go round-robin ``--repeats`` times; the table shows the fastest and
the median epoch of each, and hand / autograd.

    OMP_NUM_THREADS=1 python benchmarks/bench_hand_losses.py [--epochs 4] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np


def problem(name: str):
    """(Dataset, train keys) of ``regression`` or ``binary``: random inputs, a noisy nonlinear target."""
    import mlplab

    rows, cols = {"regression": (35_000, 29), "binary": (29_000, 50)}[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    score = x[:, 0] * x[:, 1] + np.sin(x[:, 2]) + 0.5 * x[:, 3:8].sum(1) + rng.normal(0, 0.5, rows)
    if name == "regression":
        return mlplab.Dataset.from_arrays(x, score.astype(np.float32), val_fraction=0.0), {}
    return mlplab.Dataset.from_arrays(x, (score > 0).astype(np.int64), val_fraction=0.0), {"label_smoothing": 0.1}


def main() -> None:
    import mlplab

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    data = {name: problem(name) for name in ("regression", "binary")}
    times: dict[tuple, list[float]] = {}
    paths: dict[tuple, str] = {}
    for _ in range(args.repeats):
        for name, (d, extra) in data.items():
            for dropout in (0.15, 0.0):
                for backprop in ("hand", "autograd"):
                    run = mlplab.train(d, hidden=[256] * 3, dropout=[dropout], optimizer="adam", lr=5e-4,
                                       batch_size=256, epochs=args.epochs, backprop=backprop, progress="quiet",
                                       device="cpu", seed=0, **extra)
                    key = (name, dropout, backprop)
                    times.setdefault(key, []).extend(run.history.column("seconds")[1:])
                    paths[key] = run.metrics["backprop_reason"]
    print("| problem | dropout | hand s/epoch (min, median) | autograd s/epoch (min, median) | hand / autograd |")
    print("|---|---|---|---|---|")
    result = []
    for name in data:
        for dropout in (0.15, 0.0):
            h, a = times[(name, dropout, "hand")], times[(name, dropout, "autograd")]
            print(f"| {name} | {dropout} | {min(h):.3f}, {statistics.median(h):.3f} | {min(a):.3f}, "
                  f"{statistics.median(a):.3f} | {min(h) / min(a):.2f} |")
            result.append({"problem": name, "dropout": dropout, "hand": h, "autograd": a})
    for key, why in paths.items():
        if key[2] == "hand":
            print(f"{key[0]}, dropout {key[1]}: {why}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
