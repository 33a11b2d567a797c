"""``mlplab recipe NAME``: rerun one of the tutorials' classic experiments; plots and report.md in --out."""

from __future__ import annotations

import argparse

from mlplab.recipes import DURATIONS, RECIPES, duration, run_recipe

NAME = "recipe"
HELP = "rerun a classic experiment (" + ", ".join(RECIPES) + "): PNG plots and a report.md"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("recipes and how long each takes (2-core CPU, one thread):\n"
                + "\n".join(f"  {name:<16} {duration(name)}" for name in RECIPES))
    p.add_argument("name", metavar="NAME", help="one of the recipes listed below")
    p.add_argument("--out", default=None, help="folder for the plots and report.md (default runs/recipe-NAME)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, init and data order (default 0)")
    p.add_argument("--quick", action="store_true", help="a small version that runs in seconds (for tests)")
    p.add_argument("--data-dir", dest="data_dir", default=None,
                   help="Fashion-MNIST folder (default $MLPLAB_FASHION_MNIST, then mlplab's usual folder)")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be in [0, 2**32 - 1] (numpy's and scikit-learn's range); got {args.seed}")
    for flag, value in (("--out", args.out), ("--data-dir", args.data_dir)):
        if value is not None and not value.strip():
            raise ValueError(f"{flag} must be a path; got an empty string")
    out = args.out or f"runs/recipe-{args.name}"
    if args.name in RECIPES:  # what to expect before a recipe that may run for minutes
        print(f"recipe {args.name}, {'quick' if args.quick else 'full'} version: "
              f"{DURATIONS[args.name][0 if args.quick else 1]}", flush=True)
    run_recipe(args.name, out, seed=args.seed, quick=args.quick, data_dir=args.data_dir)
    print(open(f"{out}/report.md").read(), end="")
    print(f"recipe folder: {out}")
    return 0
