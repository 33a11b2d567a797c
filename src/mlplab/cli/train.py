"""``mlplab train``: one run, its folder named on the last line printed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlplab.cli.flags import add_model_flags, add_table_flags, add_train_flags, settings_from_args
from mlplab.config import TrainConfig

NAME = "train"
HELP = "train a model (mlp, cnn, lenet, rnn, lstm) on a dataset or your own table and write a run folder (config, history, metrics, weights, plots)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    add_train_flags(p)
    add_table_flags(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--verbose", action="store_true", help="also say which path training takes (backprop by hand or "
                   "autograd) and why")
    p.add_argument("--resume", metavar="RUN_FOLDER", help="continue a stopped run in its folder, exactly where "
                   "its last checkpoint stopped; only --epochs, --device and --data-dir may change")
    p.add_argument("--seeds", type=int, default=1,
                   help="train N runs (seeds --seed, --seed + 1, ...) and report mean ± std (mlplab compare's folder)")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "data", None) and args.resume is None and args.seeds == 1 and os.environ.get("RANK", "0") == "0":
        from mlplab.runs.report_worker import prewarm

        # a table run's baselines and figures: scikit-learn and matplotlib load there while torch loads here
        prewarm(fits=getattr(args, "baselines", "auto") != "none")
    from mlplab.data.load import as_file
    from mlplab.runs.train import train  # torch loads here, not for --help
    from mlplab.training.distributed import is_main, process_group

    if args.resume is not None:
        return resume(args)
    settings = settings_from_args(args)
    if args.seeds != 1:
        from mlplab.experiments.compare import compare

        result = compare(settings, {}, seeds=args.seeds, log=None if args.quiet else print)
        print(result.table, end="")
        print(f"compare folder: {result.path}")
        return 0
    with process_group(settings.config.device):  # under torchrun: join the ranks; only rank 0 writes and prints
        main = is_main()
        return report(args, lambda: train(**as_file(settings.keys), progress="auto" if main and not args.quiet
                                          else "quiet", write=main, verbose=args.verbose and main))


def resume(args: argparse.Namespace) -> int:
    """``--resume RUN_FOLDER``: the saved config, with the flags given applied (check_resume refuses conflicts)."""
    from mlplab.runs.checkpoint import resume_config
    from mlplab.runs.train import train
    from mlplab.training.distributed import is_main, process_group

    if args.config or args.seeds != 1:
        raise ValueError("--resume takes its settings from the run folder; it cannot be combined with "
                         f"{'--config' if args.config else '--seeds'}")
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    if overrides.get("data_dir") is not None:  # stored absolute, as a fresh run stores it
        overrides["data_dir"] = str(Path(overrides["data_dir"]).expanduser().resolve())
    config = resume_config(args.resume, overrides)
    with process_group(config.device):
        main = is_main()
        return report(args, lambda: train(config=config, progress="auto" if main and not args.quiet else "quiet",
                                          write=main, resume=args.resume, verbose=args.verbose and main))


def report(args: argparse.Namespace, run_training) -> int:
    from mlplab.runs.failures import Interrupted
    from mlplab.runs.rundir import stop_status
    from mlplab.training.distributed import is_main

    try:
        result = run_training()
    except Interrupted as e:
        print(f"mlplab: {e}", file=sys.stderr)
        return stop_status(e)
    if not is_main():
        return 0
    m = result.metrics
    summary = "  ".join(f"{k} {m[k]:.4f}" for k in ("test_accuracy", "test_loss") if k in m)
    if "test" in m:  # a table run: its test metrics by name, in target units
        from mlplab.runs.metrics import headline

        summary = "test: " + headline(m["test"])
    if m.get("early_stopping") and m["early_stopping"]["stopped_epoch"] is not None:
        e = m["early_stopping"]
        summary += f"  (stopped after epoch {e['stopped_epoch']}; weights of epoch {e['best_epoch']})"
    if not args.quiet:
        rows = m.get("rows", {})
        print(f"rows: {rows.get('train', 0):,} trained · {rows.get('val', 0):,} validated · {rows.get('test', 0):,} tested")
        print(f"{summary}  ({m['train_seconds']:.1f}s training on {m['device']})")
        if m.get("baselines"):
            from mlplab.runs.metrics import baseline_line

            print(baseline_line(m))
    print(f"run folder: {result.path}")
    return 0
