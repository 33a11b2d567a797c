"""mlplab.runs.report_worker: the baselines it fits in its own process equal an in-process fit on the same rows,
to the last bit; the figures it draws are the bytes the run itself would draw; a full disk there is the
WriteFailed naming the file, with no temporary left; a worker that dies is said so, and none outlives its run."""

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tmpfs

from mlplab.data.dataset import Dataset
from mlplab.plots import figures
from mlplab.runs import baselines, report_worker
from mlplab.runs.rundir import WriteFailed
from mlplab.training.history import History

QUIET = {"log": lambda message: None}


def table(task: str, n: int = 500) -> Dataset:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=n), rng.normal(size=n)
    town = rng.choice(["north", "south", "east"], n)
    target = {"binary": (a + b > 0).astype(int).astype(str),
              "multiclass": np.select([a > 0.5, a < -0.5], ["high", "low"], "mid"),
              "regression": 3 * a - b + rng.normal(0, 0.1, n)}[task]
    frame = pd.DataFrame({"a": np.where(rng.random(n) < 0.1, np.nan, a), "b": b, "town": town, "y": target})
    return Dataset.from_frame(frame, "y", task=task, seed=0, **QUIET)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_workers_baselines_equal_an_in_process_fit(task):
    data = table(task)
    with report_worker.start(data, "auto", seed=3) as worker:
        got = worker.baselines()
    want = baselines.fit_baselines(data, seed=3)
    assert got["decision"] == want["decision"] and got["rows"] == want["rows"] == len(data.x_train)
    assert sorted(got["models"]) == ["hgb", "linear"]
    for name, m in want["models"].items():
        metric = "rmse" if task == "regression" else "log_loss"
        assert got["models"][name][metric] == m[metric], (name, got["models"][name][metric], m[metric])
        assert got["models"][name]["model"] == m["model"]


def test_nothing_to_fit_is_its_own_answer_and_the_worker_ends():
    data = table("binary")
    worker = report_worker.start(data, "none", seed=0)
    assert worker.baselines() == {"decision": "baselines none: not fitted", "rows": 0, "models": {}}
    worker.close()
    assert worker.proc.poll() is not None


def jobs(folder):
    history = History()
    for epoch in range(1, 6):
        history.rows.append({"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.2 / epoch,
                             "train_accuracy": 1 - 0.5 / epoch, "val_accuracy": 1 - 0.6 / epoch, "seconds": 0.1})
    history.best_epoch = 4
    return [("curves_figure", (history, "t: mlp 256 adam lr=0.001"), folder / "learning_curves.png"),
            ("confusion_figure", ([[5, 1], [2, 7]], ["no", "yes"], "t: test rows"), folder / "confusion.png")]


def test_its_figures_are_the_bytes_drawn_here(tmp_path):
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    figures.draw(jobs(tmp_path / "here"))
    with report_worker.Worker() as worker:
        worker.draw(jobs(tmp_path / "there"))
        worker.drawn()
    for name in ("learning_curves.png", "confusion.png"):
        assert (tmp_path / "there" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name


def test_a_full_disk_where_it_draws_is_the_write_failed_naming_the_file(tmp_path):
    with tmpfs(tmp_path, "16k") as disk, report_worker.Worker() as worker:
        (disk / "filler").write_bytes(b"\0" * (12 << 10))
        worker.draw(jobs(disk))
        with pytest.raises(WriteFailed, match="no space left on device") as e:
            worker.drawn()
        assert e.value.no_space and e.value.path == disk / "learning_curves.png"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no temporary, nothing half-written


def test_a_worker_that_dies_is_said_so_and_its_work_done_here(tmp_path, capsys):
    """A run never fails for want of its report: the baselines and figures a dead worker owed are made in the
    run's process, the same numbers and files, with one note."""
    data = table("binary")
    with report_worker.Worker() as worker:
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.fit(baselines.inputs(data, seed=0))
        worker.draw(jobs(tmp_path))
        got = worker.baselines()
        worker.drawn()
    want = baselines.fit_baselines(data, seed=0)
    assert got["models"]["hgb"]["log_loss"] == want["models"]["hgb"]["log_loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "learning_curves.png"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("mlplab: note: mlplab's report worker process ended"), err


def test_an_unused_worker_exits_when_its_pipe_closes_and_close_ends_a_busy_one():
    idle = report_worker.Worker()
    idle.proc.stdin.close()  # what this process's exit does to a pre-warmed worker it never used
    assert idle.proc.wait(timeout=60) == 0
    busy = report_worker.start(table("regression", n=20_000), "auto", seed=0)
    time.sleep(0.2)
    busy.close()
    assert busy.proc.returncode is not None


def test_a_run_that_ended_well_leaves_its_worker_to_the_next_and_a_fork_starts_its_own():
    data = table("binary")
    with report_worker.start(data, "auto", seed=0) as first:
        first.baselines()
    with report_worker.start(data, "auto", seed=0) as second:
        second.baselines()
    assert second is first and first.proc.poll() is None  # scikit-learn loaded once for both
    with pytest.raises(KeyError), report_worker.start(data, "auto", seed=0) as third:
        raise KeyError("a run that failed")
    assert third is first and first.proc.poll() is not None  # ended with its run
    with report_worker.start(data, "auto", seed=0) as fourth:
        fourth.baselines()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked child (as compare's and tune's workers are) must not share its parent's pipe
        with report_worker.start(data, "auto", seed=0) as child:
            ok = child is not fourth and child.baselines()["models"]
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and fourth.proc.poll() is None
    with report_worker.start(data, "auto", seed=0) as fifth:
        assert fifth is fourth


def test_a_relative_run_folder_is_drawn_where_the_run_is_not_where_the_worker_started(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "run").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    with report_worker.Worker() as worker:  # started here, used from b (a pooled worker serves later runs)
        monkeypatch.chdir(tmp_path / "b")
        worker.draw(jobs(Path("run")))
        worker.drawn()
    assert sorted(p.name for p in (tmp_path / "b" / "run").iterdir()) == ["confusion.png", "learning_curves.png"]
    assert not list((tmp_path / "a").iterdir())
