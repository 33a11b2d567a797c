"""``mlplab tune``: search a model's settings with Optuna (TPE, pruning); each trial a run folder, the best in
DIR/best."""

from __future__ import annotations

import argparse

from mlplab.cli.flags import add_model_flags, add_table_flags, add_train_flags, settings_from_args

NAME = "tune"
HELP = ("search the settings with Optuna (TPE sampler, median pruning) over --trials runs, on one machine or many; "
        "the best run folder in DIR/best")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    add_train_flags(p)  # here --out is the tune folder itself (default runs/tune-<dataset>)
    add_table_flags(p)
    g = p.add_argument_group("tuning")
    g.add_argument("--trials", type=int, default=30,
                   help="finished trials the whole study should have (workers here and elsewhere share them; "
                        "default 30)")
    g.add_argument("--timeout", type=float, default=None, metavar="S", help="start no trial after S seconds")
    g.add_argument("--workers", type=int, default=1, metavar="W",
                   help="local worker processes, the cores split between them (default 1)")
    g.add_argument("--storage", default=None, metavar="URL",
                   help="journal:PATH, sqlite:///FILE or postgresql://USER@HOST:PORT/DB (default: a journal file in "
                        "the tune folder); workers on other machines join a PostgreSQL study with the same command")
    g.add_argument("--study", default=None, metavar="NAME", help="the study's name (default: the tune folder's)")
    g.add_argument("--space", default=None, metavar="FILE",
                   help="a TOML file of ranges over the default space ([lr] low = 1e-4 high = 1e-2 log = true; "
                        "[batch_size] choices = [128, 256]); mlplab.experiments.search_space")
    g.add_argument("--metric", default=None,
                   help="the validation column to optimise (default val_roc_auc for binary tasks, else val_loss)")
    g.add_argument("--heartbeat", type=float, default=10.0, metavar="S",
                   help="databases: a worker's sign of life every S seconds; a trial silent for 3 S is failed and "
                        "retried once (default 10)")
    g.add_argument("--quiet", action="store_true", help="only the summary")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ValueError("mlplab tune needs Optuna: pip install 'mlplab[tune]'")
    from mlplab.experiments.tune import tune  # optuna and torch load here, not for --help

    settings = settings_from_args(args)
    result = tune(settings, args.trials, storage=args.storage, study=args.study, space_file=args.space,
                  metric=args.metric, workers=args.workers, timeout=args.timeout, heartbeat=args.heartbeat,
                  progress="quiet" if args.quiet else "auto")
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(result.counts.items()))
    print(f"study {result.study}: {counts}")
    if result.best is not None:
        print(f"best: trial {result.best.number}, {result.best.value:.6g}; "
              + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in result.best.params.items()))
    if result.best_path is not None:
        print(f"best run folder: {result.best_path}")
    elif result.best is not None:
        print(f"the best trial ran on another machine: its run folder is {result.best.user_attrs.get('folder')} "
              "in that machine's tune folder")
    print(f"tune folder: {result.path}")
    return 0
