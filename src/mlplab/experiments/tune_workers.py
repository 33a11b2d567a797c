"""A tune's workers: each runs trials of the study until it has enough finished ones, in this process or in
worker processes (``--workers W``, the cores split between them so that W workers do not spin against each other).

A trial (``Objective``) samples the space, resolves the keys through the one road (mlplab.runs.train.prepare)
and trains a run folder (execute) with ``Pruning`` reporting the validation metric after every epoch. A worker
starts no trial once the finished ones and those running elsewhere make the count; a database error anywhere
becomes StorageLost (one line, exit 2).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import time
from typing import TYPE_CHECKING

from mlplab.experiments import search_space, study as studies
from mlplab.training.callbacks import Callback, check_monitor

if TYPE_CHECKING:
    from mlplab.experiments.tune import Job
    from mlplab.experiments.tune_report import TrialProgress


def run_workers(job: Job, study, bar: TrialProgress) -> None:
    """``workers`` = 1: trials in this process; else that many worker processes, this one showing progress."""
    if job.workers == 1:
        work(job, 0, bar)
        return
    exits = run_processes(child, [(job, i) for i in range(job.workers)],
                          lambda: guarded(job, lambda: bar.update(study)))
    done = sum(studies.counts(study).get(s, 0) for s in studies.FINISHED)
    if done < job.trials and job.timeout is None:
        codes = ", ".join(map(str, exits))
        raise ValueError(f"every worker ended (exit codes {codes}) with {done} of {job.trials} trials finished; "
                         "run the same command again to continue")


def run_processes(target, args: list[tuple], watch) -> list[int | None]:
    """One worker process per ``args`` (``target(*a, errors)``), ``watch()`` every second while they run and once
    after; the first error a worker reports is raised here (StorageLost or ValueError), and every worker is ended
    on the way out. Returns their exit codes. Tune's workers and compare/cv's (mlplab.experiments.grid_study)."""
    context = worker_context()
    errors = context.Queue()
    procs = [context.Process(target=target, args=(*a, errors)) for a in args]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs) and errors.empty():
            watch()
            time.sleep(1.0)
        if not errors.empty():
            kind, message = errors.get()
            raise (studies.StorageLost if kind == "lost" else ValueError)(message)
        watch()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    return [p.exitcode for p in procs]


def share_cores(workers: int) -> None:
    """``workers`` processes share the cores instead of each spinning ``workers`` times too many threads."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, min(torch.get_num_threads(), cores // workers)))


def exit_as_worker(action, errors) -> None:
    """A worker process's ``action()``: Ctrl-C exits 130, SIGTERM 143; a lost storage or a bad input is put on
    ``errors`` (one line, for the parent to raise) and exits 2."""
    import sys

    from mlplab.errors import NonFiniteLoss
    from mlplab.runs.rundir import stop_status

    try:
        action()
    except KeyboardInterrupt as e:
        sys.exit(stop_status(e))
    except studies.StorageLost as e:
        errors.put(("lost", str(e)))
        sys.exit(2)
    except (ValueError, TypeError, OSError, NonFiniteLoss) as e:
        errors.put(("error", str(e)))
        sys.exit(2)


def child(job: Job, index: int, errors) -> None:
    """A worker process: its share of the cores, the study's trials until the count is reached."""
    exit_as_worker(lambda: work(job, index, None), errors)


def guarded(job: Job, action):
    """``action()``; a storage error becomes StorageLost, a failed journal write its WriteFailed (one line,
    exit 2)."""
    try:
        return action()
    except Exception as e:
        if (failed := studies.failure(job.storage, e)) is e:
            raise
        raise failed from None


def work(job: Job, index: int, bar) -> None:
    """One worker: run trials of the study until it has ``job.trials`` finished ones (or the timeout)."""
    import optuna

    from mlplab.errors import NonFiniteLoss

    optuna.logging.set_verbosity(optuna.logging.CRITICAL)  # mlplab says what happened, in its own lines
    if job.workers > 1:
        share_cores(job.workers)
    storage = studies.open_storage(job.storage, job.heartbeat)
    deadline = None if job.timeout is None else time.monotonic() + job.timeout

    def load():
        started = len(optuna.load_study(study_name=job.study, storage=storage).trials)
        sampler = optuna.samplers.TPESampler(seed=job.seed + 7919 * index + started, constant_liar=True)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        return optuna.load_study(study_name=job.study, storage=storage, sampler=sampler, pruner=pruner)

    study = guarded(job, load)
    failures = 0
    callbacks = [] if bar is None else [lambda s, t: bar.update(s)]
    while deadline is None or time.monotonic() < deadline:
        guarded(job, lambda: studies.fail_dead(study, job.storage))
        counts = guarded(job, lambda: studies.counts(study))
        done = sum(counts.get(s, 0) for s in studies.FINISHED)
        if done >= job.trials and not counts.get("RUNNING", 0):
            return
        if done + counts.get("RUNNING", 0) >= job.trials:  # the last trials are running elsewhere, or were running
            # on a worker that died: wait until they finish, or until its lost heartbeat (its pid, on a journal)
            # lets fail_dead mark them failed, so no trial is left RUNNING when the study is done
            time.sleep(0.5)
            continue
        before = counts.get("FAIL", 0)
        guarded(job, lambda: study.optimize(Objective(job), n_trials=1, catch=(NonFiniteLoss,), callbacks=callbacks))
        failures += guarded(job, lambda: studies.counts(study)).get("FAIL", 0) > before
        if failures > job.trials:
            raise ValueError(f"{failures} trials failed in this worker (diverged: a non-finite loss); narrow the "
                             "lr range with --space FILE")


class Objective:
    """One trial: sample, prepare, train and write its run folder, report each epoch; the validation metric."""

    def __init__(self, job: Job):
        self.job = job

    def __call__(self, trial) -> float:
        import optuna

        from mlplab.errors import NonFiniteLoss
        from mlplab.runs.train import execute, prepare

        import torch

        job = self.job
        studies.mark_self(trial)
        trial.set_user_attr("threads", torch.get_num_threads())  # the worker's share of the cores
        params = search_space.suggest(trial, job.space)
        try:  # the data's notes were shown once, by the check before the study
            with contextlib.redirect_stderr(io.StringIO()):
                plan = prepare(**{**job.keys, **search_space.config_keys(params, job.hidden)})
        except (ValueError, TypeError) as e:
            raise type(e)(f"trial {trial.number} {params}: {e}; narrow --space FILE") from None
        plan.folder = job.folder / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("folder", str(plan.folder.relative_to(job.folder)))
        pruning = Pruning(trial, job.metric)
        try:
            run = execute(plan, write=True, progress="quiet", callbacks=[pruning])
        except NonFiniteLoss as e:
            trial.set_user_attr("error", " ".join(str(e).split())[:120])
            raise
        if pruning.pruned:
            raise optuna.TrialPruned(f"pruned after epoch {pruning.epoch}")
        return float(run.metrics[job.metric])


class Pruning(Callback):
    """Report the validation metric to the trial after every epoch; stop when the pruner says so (the run
    folder is still written, with the epochs it trained)."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric, self.pruned, self.epoch = trial, metric, False, 0

    def on_epoch_end(self, epoch, history, model, opt):
        row = history.rows[-1]
        check_monitor(self.metric, list(row))
        self.epoch = epoch
        self.trial.report(float(row[self.metric]), epoch)
        self.pruned = self.trial.should_prune()
        return self.pruned


# what a run imports on its way (one missing is skipped): lazily imported, scikit-learn alone takes seconds
PRELOAD = ["mlplab.experiments.tune_workers", "mlplab.experiments.grid_study", "mlplab.experiments.tune_report",
           "mlplab.runs.train", "mlplab.runs.metrics", "mlplab.data.split", "mlplab.data.load", "mlplab.plots.figures",
           "mlplab.plots.display", "optuna", "sklearn.model_selection", "sklearn.ensemble", "pandas",
           "matplotlib.figure"]


def worker_context():
    """Worker processes forked from a server that imported torch, mlplab and Optuna once (and never ran a
    parallel region, so no OpenMP state is forked): W workers start in the time of one import, not W."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context
