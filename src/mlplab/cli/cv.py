"""``mlplab cv``: K-fold cross-validation of the model the flags describe; per-fold and mean ± std metrics."""

from __future__ import annotations

import argparse

from mlplab.cli.flags import add_model_flags, add_study_flags, add_table_flags, add_train_flags, settings_from_args

NAME = "cv"
HELP = "K-fold cross-validation (stratified for classification): per-fold and mean ± std metrics, curves"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    add_train_flags(p)
    add_table_flags(p)
    p.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    p.add_argument("--quiet", action="store_true", help="only the table and the folder")
    add_study_flags(p, "folds")


def run(args: argparse.Namespace) -> int:
    from mlplab.experiments.cv import (
        cross_validate,  # scikit-learn loads here, not at every mlplab start-up
    )

    if getattr(args, "val_fraction", None) is not None:
        raise ValueError("cv takes no --val-fraction: each fold's held-out part is the validation set (1/K of the "
                         "training pool); set the number of folds with --folds K instead")
    settings = settings_from_args(args)  # each member or fold resolves them again with its data's preset
    spread = None if args.workers == 1 and args.storage is None else dict(
        workers=args.workers, storage=args.storage, study=args.study)  # the folds as a study (grid_study)
    result = cross_validate(settings, args.folds, log=None if args.quiet else print, spread=spread)
    print(result.table, end="")
    print(f"cv folder: {result.path}")
    return 0
