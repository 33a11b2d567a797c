"""``mlplab train``: one run, its folder named on the last line printed."""

from __future__ import annotations

import argparse

from ..run import train
from .flags import add_model_flags, add_train_flags, config_from_args

NAME = "train"
HELP = "train an MLP and write a run folder (config, history, metrics, weights, plots)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    add_train_flags(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--seeds", type=int, default=1,
                   help="train N runs (seeds --seed, --seed + 1, ...) and report mean ± std (mlplab compare's folder)")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.seeds != 1:
        from ..compare import compare

        result = compare(config, {}, seeds=args.seeds, log=None if args.quiet else print)
        print(result.table, end="")
        print(f"compare folder: {result.path}")
        return 0
    result = train(config, progress="quiet" if args.quiet else "auto")
    m = result.metrics
    summary = f"test_loss {m['test_loss']:.4f}"
    if "test_accuracy" in m:
        summary = f"test_accuracy {m['test_accuracy']:.4f}  " + summary
    if not args.quiet:
        print(f"{summary}  ({m['train_seconds']:.1f}s training on {m['device']})")
    print(f"run folder: {result.path}")
    return 0
