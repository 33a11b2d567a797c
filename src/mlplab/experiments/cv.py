"""K-fold cross-validation: K runs on K train/validation splits of the training pool, then mean ± std.

The pool is the dataset's training part (``val_fraction=0``), or a table's rows outside its test rows; the
test split stays aside and is only evaluated. Folds come from mlplab.data.split.fold_rows (stratified for
classification), shuffled with the run seed. Each fold is a run like any other (mlplab.runs.train): the same
settings resolution, table metrics and baselines, checkpoints, and ``mlplab train --resume`` of a fold's
folder; its config names the fold (``cv_folds``, ``cv_fold``), and mlplab.data.load reads that fold with every
statistic (scaling, a table's column encoding) fitted on its training rows alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlplab.config import TrainConfig, dump_config, given_keys
from mlplab.data.load import as_file
from mlplab.experiments import tables
from mlplab.experiments.study_folder import unfinished
from mlplab.plots import figures as plots
from mlplab.runs.rundir import fresh_folders, new_run_dir, write_json, write_text
from mlplab.runs.train import Plan, execute, prepare
from mlplab.settings import Settings
from mlplab.training.progress import Heartbeat, overall
from mlplab.training.history import History


@dataclass
class CVResult:
    path: Path | None
    histories: list[History]
    metrics: list[dict]    # per fold
    table: str             # markdown: one row per fold, then mean ± std


def cross_validate(base: Settings | TrainConfig, folds: int = 5, *, write: bool = True,
                   log: Callable[[str], None] | None = None, spread: dict | None = None) -> CVResult:
    """One run per fold with ``base``'s keys; with ``write``, fill ``<out>/<time>-cv-<dataset>/fold<i>/``.
    ``spread`` (``workers``, ``storage``, ``study``): the folds as a study that local worker processes, or
    workers on other machines, share (mlplab.experiments.grid_study)."""
    keys = dict(base.keys) if isinstance(base, Settings) else given_keys(base)
    if "val_fraction" in keys:
        raise ValueError("cv takes no val_fraction: each fold's held-out part is the validation set (1/K of the "
                         "training pool); set the number of folds with --folds K instead")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, e.g. --folds 5; got {folds!r}")
    first = prepare(**as_file(keys), cv_folds=folds, cv_fold=1)  # every check before a file; one fold's data at a time
    config = first.config
    plans = fold_plans(first, keys, folds)
    del first  # let fold 1's data go once it has trained
    histories: list[History] = []
    metrics: list[dict] = []
    if not write:
        _folds(plans, keys, folds, None, histories, metrics, log, spread)
        return _table(None, config, folds, histories, metrics)

    def note() -> str:
        return (f"has {len(metrics)} of {folds} folds finished (no table yet: run the cv again, or resume that fold "
                "and tabulate by hand)")

    with fresh_folders(config.out):
        path = new_run_dir(config.out, f"cv-{config.dataset}")
        with unfinished(path, ("cv.json", "config.toml", "table.md", "folds.csv"), note, "fold"):
            write_json(path / "cv.json", {"folds": folds, "seed": config.seed})  # marks the folder as a cv folder
            write_text(path / "config.toml", dump_config(config.replace(cv_fold=0, cv_folds=0)))
            _folds(plans, keys, folds, path, histories, metrics, log, spread)
            return _table(path, config, folds, histories, metrics)


def fold_plans(first: Plan, keys: dict, folds: int) -> Iterator[Plan]:
    """Fold 1's plan (prepared already, every check made), then each next fold's, prepared when its turn comes."""
    plan, first = first, None
    for i in range(1, folds + 1):
        plan = plan if i == 1 else prepare(**keys, cv_folds=folds, cv_fold=i)
        yield plan


def _folds(plans: Iterator[Plan], keys: dict, folds: int, path: Path | None, histories: list, metrics: list, log,
           spread) -> None:
    """Train every fold, appending each one's history and metrics."""
    if spread is not None and path is not None:
        from mlplab.experiments.grid_study import train_members

        specs = [{"name": f"fold{i}", "keys": {**keys, "cv_folds": folds, "cv_fold": i}, "exact": True}
                 for i in range(1, folds + 1)]
        trained = train_members(path, specs, log=log, **spread)
        histories += [m.history for m in trained]
        metrics += [dict(m.metrics) for m in trained]
        return
    started = time.perf_counter()
    for i, plan in enumerate(plans, start=1):
        plan.folder = None if path is None else path / f"fold{i}"
        beat = [] if log is None else [Heartbeat(f"fold {i}/{folds}", log)]
        run = execute(plan, write=path is not None, progress="quiet", callbacks=beat)
        m = run.metrics
        histories.append(run.history)
        metrics.append({k: v for k, v in m.items() if not isinstance(v, (dict, list, str))})
        if log is not None:
            log(f"fold {i}/{folds}: " + "  ".join(f"{k} {m[k]:.4f}" for k in tables.metric_keys([metrics[-1]])
                                                  if k.startswith(("train_", "val_")) and k != "train_seconds")
                + overall(i, folds, started))


def _table(path: Path | None, config: TrainConfig, folds: int, histories: list, metrics: list) -> CVResult:
    """The per-fold table with mean ± std; with ``path``, table.md, folds.csv and one overlay per metric."""
    keys = [k for k in tables.metric_keys(metrics) if k != "train_seconds"]
    rows = [[str(i), *(m[k] for k in keys)] for i, m in enumerate(metrics, start=1)]
    stats = tables.aggregate(metrics)
    md_rows = [*rows, ["mean ± std", *(tables.fmt(*stats[k]) for k in keys)]]
    table = tables.markdown(["fold", *keys], md_rows)
    if path is not None:
        write_text(path / "table.md", table)
        csv_rows = [*rows, ["mean", *(stats[k][0] for k in keys)], ["std", *(stats[k][1] for k in keys)]]
        write_text(path / "folds.csv", tables.csv_text(["fold", *keys], csv_rows))
        for metric in [k for k in histories[0].rows[0] if k not in ("epoch", "seconds")]:
            curves = {f"fold {i}": [h.column(metric)] for i, h in enumerate(histories, start=1)}
            plots.overlay(curves, metric, path / f"cv_{metric}.png",
                          title=f"{config.dataset}: {metric} per fold ({folds}-fold CV)")
    return CVResult(path, histories, metrics, table)
