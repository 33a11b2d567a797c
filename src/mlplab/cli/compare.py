"""``mlplab compare``: a grid over config keys × seeds; overlay plots and a mean ± std table."""

from __future__ import annotations

import argparse

from mlplab.cli.flags import add_model_flags, add_study_flags, add_table_flags, add_train_flags, settings_from_args

NAME = "compare"
HELP = "train a grid of settings over several seeds; overlay plots and a mean ± std table of final metrics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    add_train_flags(p)
    add_table_flags(p)
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="config key and its values, repeatable: --grid optimizer=sgd,adam --grid lr=0.01,0.1 "
                        "(per-layer lists use /: --grid hidden=256,256/256)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per setting: --seed, --seed + 1, ... (default 1)")
    p.add_argument("--quiet", action="store_true", help="only the table and the folder")
    add_study_flags(p, "members")


def run(args: argparse.Namespace) -> int:
    from mlplab.experiments.compare import compare, parse_grid  # torch loads here, not for --help

    grid = parse_grid(args.grid)
    settings = settings_from_args(args)  # each member or fold resolves them again with its data's preset
    spread = None if args.workers == 1 and args.storage is None else dict(
        workers=args.workers, storage=args.storage, study=args.study)  # the members as a study (grid_study)
    result = compare(settings, grid, seeds=args.seeds, log=None if args.quiet else print, spread=spread)
    print(result.table, end="")
    print(f"compare folder: {result.path}")
    return 0
