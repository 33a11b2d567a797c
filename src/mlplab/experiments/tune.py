"""Tune: search the settings of a model with Optuna's TPE, each trial a run like any other, on one or many machines.

``tune(settings, trials=30)`` fills one folder::

    <DIR>/                      default runs/tune-<dataset>; the same command again resumes the study
        journal.log             the study (unless --storage names a database)
        trials/trial-0007/      every trial: a run folder as ``mlplab train`` writes it
        best/                   a copy of the best trial's run folder (predict, evaluate, export take it)
        trials.csv, history.png, importances.png, parallel_coordinates.png, tune.json

Each trial resolves the base keys (flags, a --config file) with the sampled ones through mlplab.settings.resolve
(mlplab.runs.train.prepare), so a trial trains exactly as ``mlplab train`` with the same keys; all trials share the
seed and so the data split. A trial reports its validation metric after every epoch and is pruned when it trails
the median of earlier trials at the same epoch (MedianPruner). ``trials`` counts the finished (complete or pruned)
trials of the whole study, so workers that join it, here (``workers``) or on other machines (``--storage
postgresql://...``), share them. Samplers and storages: mlplab.experiments.study.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlplab.experiments import search_space, study as studies, tune_report
from mlplab.experiments.tune_workers import run_workers
from mlplab.experiments.search_space import Range
from mlplab.runs.failures import Interrupted
from mlplab.runs.rundir import RunLock, check_writable, fresh_folders, write_json
from mlplab.settings import Settings
from mlplab.training.callbacks import higher_is_better

NOT_COMPARED = ("out", "device", "data_dir")  # may differ between the machines that share a study


@dataclass
class Job:
    """One study's search, as every worker runs it (picklable: local workers are processes of a fork server)."""

    keys: dict
    space: dict[str, Range]
    folder: Path
    storage: str
    study: str
    metric: str
    trials: int
    timeout: float | None
    heartbeat: float
    workers: int
    hidden: tuple[int, ...]
    seed: int


@dataclass
class TuneResult:
    path: Path
    study: str
    counts: dict[str, int]
    best: object | None      # optuna FrozenTrial
    best_path: Path | None


def default_metric(task: str | None) -> str:
    """ROC-AUC for a binary task (what the table benchmarks judge), else the validation loss."""
    return "val_roc_auc" if task == "binary" else "val_loss"


def plan_job(settings: Settings, trials: int, *, out=None, storage=None, study=None, space_file=None, metric=None,
             workers: int = 1, timeout: float | None = None, heartbeat: float = 10.0) -> Job:
    """Check everything (the flags, the space, the data and one model built from them) and write nothing."""
    from mlplab.data.load import as_file
    from mlplab.runs.train import prepare

    for name, value in (("trials", trials), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, e.g. --{name} 4; got {value!r}")
    for name, value in (("timeout", timeout), ("heartbeat", heartbeat)):
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
    if metric is not None and not metric.startswith("val_"):
        raise ValueError(f"--metric must be a validation column (val_loss, val_accuracy, val_roc_auc, ...); got "
                         f"{metric!r}: choosing by train or test rows would overfit them")
    studies.storage_spec(storage, Path("."))  # its form, before the data is read
    ranges = None if space_file is None else search_space.read_space(space_file)
    keys = {k: v for k, v in settings.keys.items() if k != "out"}
    keys.setdefault("baselines", "none")  # trials compare nets; a baseline per trial would cost more than a trial
    plan = prepare(**as_file(keys))
    space = search_space.merged(search_space.space_kind(plan.config), ranges, settings.given)
    metric = metric or default_metric(plan.data.task)
    if plan.data.x_val is None or len(plan.data.x_val) == 0:
        raise ValueError("tune chooses by the validation rows and this data has none; give --val-fraction 0.1")
    out = out if out is not None else settings.keys.get("out")
    folder = Path(out) if out is not None else Path("runs") / f"tune-{plan.config.dataset}"
    spec = studies.storage_spec(storage, folder)
    return Job(keys, space, folder, spec, study or folder.name, metric, trials, timeout, heartbeat, workers,
               tuple(plan.config.hidden), plan.config.seed)


def record(job: Job) -> dict:
    """What makes two commands the same search: the base keys, the space and the metric."""
    keys = {k: (Path(v).name if k in ("data", "test") and v else list(v) if isinstance(v, tuple) else v)
            for k, v in sorted(job.keys.items()) if k not in NOT_COMPARED}
    return {"keys": keys, "space": search_space.describe(job.space), "metric": job.metric}


def tune(settings: Settings, trials: int, *, progress: str = "auto", **options) -> TuneResult:
    """Run (or continue, or join) the study until it has ``trials`` finished trials; see the module docstring.
    ``options``: plan_job's."""
    import optuna

    job = plan_job(settings, trials, **options)
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)  # mlplab says what happened, in its own lines
    with fresh_folders(job.folder):  # a failed first start leaves no folder of its own
        return _tune(job, progress)


def _tune(job: Job, progress: str) -> TuneResult:
    check_writable(job.folder.parent)
    study = None if studies.is_journal(job.storage) else open_study(job)  # a database first: nothing written
    job.folder.mkdir(exist_ok=True)
    with RunLock(job.folder):  # one command per tune folder; its workers are its own processes
        check_owner(job)
        if study is None:
            study = open_study(job)
        write_json(job.folder / "tune.json", {"study": job.study, "storage": studies.shown(job.storage),
                                              **record(job), "trials": job.trials})
        bar = tune_report.TrialProgress(job.trials, job.metric, mode=progress)
        try:
            run_workers(job, study, bar)
        except KeyboardInterrupt:
            done = sum(studies.counts(study).get(s, 0) for s in studies.FINISHED)
            raise Interrupted(f"interrupted; {job.folder} keeps {done} finished trials of {job.trials}; run the "
                              "same command again to continue the study") from None
        finally:
            bar.stop()
        try:
            return finish(job, study)
        except Exception as e:
            if studies.is_storage_error(e):
                raise studies.lost(job.storage, e) from None
            raise


def open_study(job: Job):
    """Create the study, or join it when it exists (then it must be the same search)."""
    import optuna

    storage = studies.open_storage(job.storage, job.heartbeat)
    direction = "maximize" if higher_is_better(job.metric) else "minimize"
    try:
        study = optuna.create_study(study_name=job.study, storage=storage, direction=direction, load_if_exists=True)
        studies.check_same(study, record(job), job.study, job.storage)
    except Exception as e:
        if studies.is_storage_error(e):
            raise studies.lost(job.storage, e, reach=True) from None
        raise
    return study


def check_owner(job: Job) -> None:
    """A tune folder belongs to one study: another study (name or storage) is refused, never mixed in."""
    import json

    path = job.folder / "tune.json"
    mine = {"study": job.study, "storage": studies.shown(job.storage)}
    if path.exists():
        found = json.loads(path.read_text())
        if {k: found.get(k) for k in mine} != mine:
            raise ValueError(f"{job.folder} holds study {found.get('study')!r} in {found.get('storage')}, not "
                             f"{job.study!r} in {mine['storage']}; give another --out for another study")


def finish(job: Job, study) -> TuneResult:
    """trials.csv, the plots and DIR/best, from the study as it stands."""
    tune_report.write_trials_csv(study, job.folder)
    tune_report.write_plots(study, job.folder, job.metric)
    best_path = tune_report.copy_best(study, job.folder)
    return TuneResult(job.folder, job.study, studies.counts(study), tune_report.best_trial(study), best_path)
