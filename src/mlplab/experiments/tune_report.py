"""What a tune shows and leaves: a bar over trials with the best value so far, then ``trials.csv``, the plots
and ``DIR/best``.

``DIR/best`` is a copy of the best trial's run folder (when that trial ran on this machine), so ``mlplab
predict``/``evaluate``/``export`` take it like any run. The plots are Optuna's own
(``optuna.visualization.matplotlib``): the optimization history, the parameter importances (fANOVA) and the
parallel coordinates of the trials.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from mlplab.experiments import tables
from mlplab.runs.rundir import write_text

PLOTS = {"history.png": "plot_optimization_history", "importances.png": "plot_param_importances",
         "parallel_coordinates.png": "plot_parallel_coordinate"}


class TrialProgress:
    """A live bar over the study's finished trials with the best value so far (a terminal), or one line per
    finished trial (a pipe, a log); ``quiet``: nothing."""

    def __init__(self, total: int, metric: str, mode: str = "auto", stream=None):
        self.total, self.metric, self.stream = total, metric, stream or sys.stdout
        self.mode = ("bar" if self.stream.isatty() else "lines") if mode == "auto" else mode
        self.seen: set[int] = set()
        self.done = 0
        self.bar = None
        if self.mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[best]}"), TimeElapsedColumn(), transient=True)
            self.task = self.bar.add_task("tune", total=total, best="")
            self.bar.start()

    def update(self, study) -> None:
        """Show every trial that finished since the last call, and the count and best so far."""
        if self.mode == "quiet":
            return
        trials = study.get_trials(deepcopy=False)
        best = best_trial(study)
        best_text = f"best {self.metric} {best.value:.4f} (trial {best.number})" if best else ""
        new = [t for t in trials if t.state.is_finished() and t.number not in self.seen]
        for t in sorted(new, key=lambda t: t.datetime_complete or t.datetime_start):
            self.seen.add(t.number)
            self.done += t.state.name in ("COMPLETE", "PRUNED")
            line = trial_line(t, self.metric, self.done, self.total, best_text)
            if self.bar is not None:
                self.bar.console.print(line, highlight=False, soft_wrap=True)
            else:
                print(line, file=self.stream, flush=True)
        if self.bar is not None:
            self.bar.update(self.task, completed=min(self.done, self.total), best=best_text)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def trial_line(t, metric: str, done: int, total: int, best_text: str) -> str:
    """``[7/30] trial 6 complete val_roc_auc 0.8412 in 9.1s; best val_roc_auc 0.8433 (trial 3)``."""
    value = f" {metric} {t.value:.4f}" if t.value is not None else ""
    why = f" ({t.user_attrs['error']})" if "error" in t.user_attrs else ""
    seconds = f" in {t.duration.total_seconds():.1f}s" if t.duration is not None else ""
    return f"[{done}/{total}] trial {t.number} {t.state.name.lower()}{value}{why}{seconds}; {best_text}".rstrip("; ")


def best_trial(study):
    """The best complete trial, or None before the first."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return None
    return study.best_trial


def write_trials_csv(study, folder: Path) -> Path:
    """``trials.csv``: one row per trial: number, state, value, each parameter, seconds, run folder."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    rows = [[t.number, t.state.name, "" if t.value is None else t.value, *(t.params.get(n, "") for n in names),
             "" if t.duration is None else round(t.duration.total_seconds(), 3), t.user_attrs.get("folder", "")]
            for t in trials]
    return write_text(folder / "trials.csv", tables.csv_text(["number", "state", "value", *names, "seconds",
                                                              "folder"], rows))


def write_plots(study, folder: Path, metric: str = "Objective Value") -> list[str]:
    """Optuna's history, importances and parallel-coordinates plots as PNGs; the names written (importances
    need two complete trials that differ)."""
    import matplotlib
    import optuna.visualization.matplotlib as ovm
    from matplotlib import pyplot as plt

    from mlplab.plots.figures import save

    written = []
    for name, plot in PLOTS.items():
        with warnings.catch_warnings(), matplotlib.rc_context():  # Optuna's style sheet stays in this block
            warnings.simplefilter("ignore")
            try:
                ax = getattr(ovm, plot)(study, target_name=metric)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            save(fig, folder / name)
            plt.close(fig)
            written.append(name)
    return written


def copy_best(study, folder: Path) -> Path | None:
    """Copy the best trial's run folder to ``folder/best`` (replacing an older best); None when no trial is
    complete or the best ran on another machine."""
    best = best_trial(study)
    if best is None or not (folder / best.user_attrs.get("folder", "-") / "model.safetensors").exists():
        return None
    source, target = folder / best.user_attrs["folder"], folder / "best"
    tmp, old = folder / ".best.tmp", folder / ".best.old"
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(".lock", ".*.tmp"))
    write_text(tmp / "trial.txt", f"trial {best.number} of study {study.study_name}: {best.value}\n"
               + "".join(f"{k} = {v}\n" for k, v in best.params.items()))
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
