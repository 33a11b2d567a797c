"""The members of a compare or the folds of a cv as an Optuna study, trained by W local workers or by workers on
many machines that share the study's database (``--workers``, ``--storage``, ``--study``).

The command that creates the study queues one trial per member (its index); every worker, here or on another
machine running the same command, takes the next queued member and trains it as a run like any other (the
member's run folder lies under the folder of the command that trained it). A member's final metrics and history
rows are recorded in the study, so each command, once every member is done, writes the same table and plots.
A worker that dies mid-member has that member failed and queued once more (mlplab.experiments.study).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mlplab.experiments import study as studies
from mlplab.experiments.tune_workers import exit_as_worker, run_processes, share_cores
from mlplab.training.history import History


@dataclass
class Member:
    """What a compare table and its plots need of a member run, wherever it trained."""

    metrics: dict
    history: History
    path: Path | None      # None: trained on another machine


@dataclass
class Grid:
    folder: Path
    specs: list[dict]      # {"name": ..., "keys": {...}, "exact": bool}: train(keys) under folder/name, or
    storage: str           # prepare(keys) into exactly folder/name (a cv fold)
    study: str
    workers: int
    heartbeat: float


def train_members(folder: Path, specs: list[dict], *, workers: int = 1, storage: str | None = None,
                  study: str | None = None, heartbeat: float = 10.0, log=None) -> list[Member]:
    """Train every member of ``specs`` through a study; the members in order, as their runs recorded them."""
    import optuna

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, e.g. --workers 2; got {workers!r}")
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)
    grid = Grid(folder, specs, studies.storage_spec(storage, folder), study or folder.name, workers, heartbeat)
    storage_obj = studies.open_storage(grid.storage, heartbeat)
    try:
        try:
            found = optuna.create_study(study_name=grid.study, storage=storage_obj)
            found.set_user_attr("mlplab", {"members": [s["name"] for s in specs]})
            for i in range(len(specs)):  # only the creator queues the members: joiners find them queued
                found.enqueue_trial({"member": i}, user_attrs={"queued": True})
        except optuna.exceptions.DuplicatedStudyError:
            found = optuna.load_study(study_name=grid.study, storage=storage_obj)
            studies.check_same(found, {"members": [s["name"] for s in specs]}, grid.study, grid.storage)
        run_workers(grid, found, log)
        return collect(grid, found)
    except Exception as e:
        if (failed := studies.failure(grid.storage, e)) is e:
            raise
        raise failed from None


def run_workers(grid: Grid, study, log) -> None:
    seen: set[int] = set()
    if grid.workers == 1:
        work(grid, lambda: report(study, grid, seen, log))
        return
    run_processes(child, [(grid,)] * grid.workers, lambda: report(study, grid, seen, log))


def child(grid: Grid, errors) -> None:
    share_cores(grid.workers)
    exit_as_worker(lambda: work(grid, None), errors)


def work(grid: Grid, after) -> None:
    """Take queued members until none is queued or running (a dead worker's member comes back queued)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.CRITICAL)  # mlplab logs each member its own way
    study = optuna.load_study(study_name=grid.study, storage=studies.open_storage(grid.storage, grid.heartbeat))
    try:
        while True:
            studies.fail_dead(study, grid.storage)
            counts = studies.counts(study)
            if counts.get("WAITING", 0):
                study.optimize(lambda trial: train_member(grid, trial), n_trials=1)
                if after is not None:
                    after()
            elif counts.get("RUNNING", 0):
                time.sleep(0.5)
            else:
                return
    except Exception as e:
        if (failed := studies.failure(grid.storage, e)) is e:
            raise
        raise failed from None


def train_member(grid: Grid, trial) -> float:
    """One member: a run folder, and its metrics and history rows recorded in the trial."""
    import optuna

    from mlplab.runs.train import execute, prepare, train

    if not trial.user_attrs.get("queued"):  # not a queued member (two workers raced for the last one)
        raise optuna.TrialPruned("no member left")
    studies.mark_self(trial)
    spec = grid.specs[trial.suggest_int("member", 0, len(grid.specs) - 1)]
    where = grid.folder / spec["name"]
    if spec["exact"]:
        plan = prepare(**spec["keys"])
        plan.folder = where
        run = execute(plan, write=True, progress="quiet")
    else:
        run = train(**{**spec["keys"], "out": str(where)}, write=True, progress="quiet")
    trial.set_user_attr("metrics", {k: v for k, v in run.metrics.items()
                                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
    trial.set_user_attr("history", run.history.rows)
    trial.set_user_attr("folder", str(run.path.relative_to(grid.folder)))
    return 0.0


def done_members(study) -> dict[int, object]:
    """member index -> its first complete trial."""
    done: dict[int, object] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE" and "member" in t.params and int(t.params["member"]) not in done:
            done[int(t.params["member"])] = t
    return done


def report(study, grid: Grid, seen: set[int], log) -> None:
    if log is None:
        return
    for i, t in sorted(done_members(study).items()):
        if i not in seen:
            seen.add(i)
            short = {k: v for k, v in t.user_attrs["metrics"].items() if k.startswith(("test_", "val_"))}
            log(f"[{len(seen)}/{len(grid.specs)}] {grid.specs[i]['name']}: "
                + "  ".join(f"{k} {v:.4f}" for k, v in short.items()))


def collect(grid: Grid, study) -> list[Member]:
    done = done_members(study)
    missing = [grid.specs[i]["name"] for i in range(len(grid.specs)) if i not in done]
    if missing:
        raise ValueError(f"{len(missing)} member(s) not trained ({', '.join(missing[:3])}); run the same command "
                         f"again with --study {grid.study} to train them")
    members = []
    for i in range(len(grid.specs)):
        t = done[i]
        path = grid.folder / t.user_attrs["folder"]
        members.append(Member(t.user_attrs["metrics"], History([dict(r) for r in t.user_attrs["history"]]),
                              path if path.exists() else None))
    return members
