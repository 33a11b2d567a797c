"""mlplab tune: the search space and its checks, a journal study killed and resumed, three workers sharing a
study on a real PostgreSQL server with one SIGKILLed mid-trial, a lost database; the best run folder predicts and
exports like any run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ONE_THREAD, one_line_error
from postgres_server import PostgresServer, Unavailable

optuna = pytest.importorskip("optuna", reason="mlplab tune needs optuna: pip install -e '.[dev]'")

from mlplab.experiments import search_space  # noqa: E402
from mlplab.experiments.study import open_storage  # noqa: E402
from mlplab.settings import resolve  # noqa: E402

FAST = ["--epochs", "10", "--baselines", "none"]  # 200 rows, 10 epochs of a small net: about a second a trial
SMALL = """[width]\nlow = 16\nhigh = 64\nstep = 16\n[depth]\nlow = 1\nhigh = 2\n[ensemble]\nchoices = [0]
[numeric_embedding]\nchoices = [0, 4]\n[batch_size]\nchoices = [32, 64]\n"""


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """200 rows, two informative numeric columns and one of noise, a binary target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=200) > 0).astype(int)
    path = tmp_path_factory.mktemp("tune-data") / "t.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{t}\n" for (a, b, c), t in zip(x, y)))
    (path.parent / "small.toml").write_text(SMALL)  # the default space narrowed to nets that train in a blink
    return path


@pytest.fixture(scope="module")
def postgres():
    try:
        server = PostgresServer.start()
    except Unavailable as e:
        pytest.skip(f"no PostgreSQL server: {e}")
    yield server
    server.remove()


def tune_cmd(table: Path, out: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "mlplab", "tune", "--data", str(table), "--target", "y", "--out", str(out),
            "--space", str(table.parent / "small.toml"), *FAST, *more]


def popen(argv: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", **ONE_THREAD}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(condition, timeout: float = 60, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def load(url: str, name: str):
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)
    return optuna.load_study(study_name=name, storage=url)


def running(url: str, name: str, pid: int) -> list[int]:
    """The numbers of the study's RUNNING trials started by process ``pid``."""
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=1))
    except KeyError:  # not created yet
        return []
    return [t.number for t in study.get_trials() if t.state.name == "RUNNING" and t.user_attrs.get("pid") == pid]


def error_line(capsys, *argv: str) -> str:
    """``mlplab ARGV`` in-process exits 2 with one error line (after the data's notes) and no traceback."""
    from mlplab.cli.main import main

    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.strip().splitlines() if not line.startswith("mlplab: note:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def states(study) -> list[str]:
    return [t.state.name for t in study.get_trials()]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# the space


def test_sampled_values_become_config_keys_through_the_one_road():
    trial = optuna.trial.FixedTrial({"lr": 1e-3, "width": 128, "depth": 2, "dropout": 0.1, "weight_decay": 1e-5,
                                     "numeric_embedding": 8, "numeric_embedding_sigma": 0.3, "ensemble": 4,
                                     "batch_size": 256})
    params = search_space.suggest(trial, search_space.default_space("table"))
    keys = search_space.config_keys(params)
    assert keys["hidden"] == (128, 128) and keys["dropout"] == (0.1,) and keys["ensemble"] == 4
    config = resolve({"data": "t.csv", "target": "y", **keys}).config
    assert (config.hidden, config.lr, config.batch_size, config.numeric_embedding) == ((128, 128), 1e-3, 256, 8)
    assert config.numeric_embedding_sigma == 0.3


def test_a_flag_fixes_its_key_and_a_file_range_replaces_the_default(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[lr]\nlow = 0.001\nhigh = 0.01\n\n[optimizer]\nchoices = ['adam', 'adamax']\n")
    space = search_space.merged("table", search_space.read_space(path), fixed={"dropout", "hidden"})
    assert "dropout" not in space and "width" not in space and "depth" not in space
    assert space["lr"] == search_space.Range(0.001, 0.01) and space["optimizer"].choices == ("adam", "adamax")
    assert space["batch_size"] == search_space.SPACES["table"]["batch_size"]


@pytest.mark.parametrize("text, message", [
    ("[lrr]\nlow = 0.1\nhigh = 1.0\n", "unknown name [lrr]; searchable: width, depth"),
    ("[lr]\nlow = 0.1\nhigh = 1.0\nlog = true\nsteps = 2\n", "[lr] has unknown field(s) steps"),
    ("[lr]\nlow = 0.1\nhigh = 0.01\n", "[lr] needs low < high; got low = 0.1, high = 0.01"),
    ("[dropout]\nlow = 0.1\nhigh = 1.5\n", "[dropout] value 1.5: dropout must be in [0, 1)"),
    ("[weight_decay]\nlow = 0.0\nhigh = 0.1\nlog = true\n", "log = true needs low > 0"),
    ("[depth]\nlow = 1.5\nhigh = 3\n", "[depth] takes integers"),
    ("[batch_size]\nchoices = []\n", "choices must be a non-empty list"),
    ("[seed]\nlow = 0\nhigh = 9\n", "[seed] is not searched"),
    ("lr = 0.1\n", "[lr] must be a table"),
])
def test_a_bad_space_file_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, table, text, message):
    space = tmp_path / "space.toml"
    space.write_text(text)
    line = one_line_error(capsys, "tune", "--data", str(table), "--target", "y", "--space", str(space),
                          "--out", str(tmp_path / "tuned"))
    assert message in line and str(space) in line
    assert not (tmp_path / "tuned").exists()


@pytest.mark.parametrize("more, message", [
    (["--storage", "mysql://x"], "--storage must be journal:PATH, sqlite:///FILE or postgresql://"),
    (["--trials", "0"], "trials must be a positive integer"),
    (["--metric", "test_roc_auc"], "--metric must be a validation column"),
])
def test_bad_tune_options_are_one_line_exit_2(capsys, tmp_path, table, more, message):
    line = one_line_error(capsys, "tune", "--data", str(table), "--target", "y", "--out", str(tmp_path / "t"), *more)
    assert message in line


def test_a_database_that_cannot_be_reached_is_one_line_exit_2(capsys, tmp_path, table):
    url = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    line = error_line(capsys, "tune", "--data", str(table), "--target", "y", "--out", str(tmp_path / "t"),
                      "--storage", url)
    assert line.startswith(f"mlplab: error: cannot reach the study's storage {url} (connection failed")
    assert not (tmp_path / "t").exists()  # nothing written


def test_a_full_disk_under_the_journal_names_it_and_leaves_no_empty_journal(capsys, tmp_path, table):
    """A real tmpfs with no room: the first append to the journal fails; one line naming journal.log (not a bare
    "[Errno 28]"), and no 0-byte journal left under its final name."""
    from conftest import fill, tmpfs

    with tmpfs(tmp_path, "64k") as mnt:
        (mnt / "t").mkdir()
        fill(mnt, 0)
        line = error_line(capsys, "tune", "--data", str(table), "--target", "y", "--trials", "1", "--out",
                          str(mnt / "t"))
        assert line.startswith("mlplab: error: no space left on device") and f"journal {mnt}/t/journal.log" in line
        assert list((mnt / "t").iterdir()) == []


def test_a_full_disk_leaves_no_tune_folder_that_was_not_there_before(capsys, tmp_path, table):
    """``--out NEW/t`` on a real full tmpfs: one line naming the journal, exit 2, and neither NEW nor NEW/t left
    (was: both stayed, empty)."""
    from conftest import fill, tmpfs

    with tmpfs(tmp_path, "64k") as mnt:
        fill(mnt, 0)
        line = error_line(capsys, "tune", "--data", str(table), "--target", "y", "--trials", "1", "--out",
                          str(mnt / "new" / "t"))
        assert line.startswith("mlplab: error: no space left on device") and f"{mnt}/new/t/journal.log" in line
        assert [p.name for p in mnt.iterdir()] == ["filler"]


def test_a_disk_that_fills_mid_study_leaves_the_journal_whole_and_the_study_continues(tmp_path, table):
    """A real tmpfs with 4 KiB left under the journal: an append that does not fit is cut back, not left half a
    line (the next append would glue onto it and the study could not be read); one line naming the journal, exit
    2, no traceback (was: Optuna's AssertionError "Should not reach."). Freed, the same command finishes."""
    from conftest import fill, tmpfs

    with tmpfs(tmp_path, "64k") as mnt:
        fill(mnt, 4096)
        argv = tune_cmd(table, tmp_path / "t", "--trials", "20", "--storage", f"journal:{mnt}/j.log")
        env = {**os.environ, "MPLBACKEND": "Agg", **ONE_THREAD}
        full = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=240)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
        errors = [line for line in full.stderr.splitlines() if line.startswith("mlplab: error:")]
        assert errors == [full.stderr.strip().splitlines()[-1]], full.stderr
        assert errors[0].startswith(f"mlplab: error: no space left on device (or file size limit) writing the "
                                    f"study's journal {mnt}/j.log"), errors[0]
        journal = (mnt / "j.log").read_bytes()
        assert journal.endswith(b"\n") and all(json.loads(line) for line in journal.splitlines())
        url = f"journal:{mnt}/j.log"
        kept = optuna.load_study(study_name="t", storage=open_storage(url, heartbeat=1)).trials
        assert kept, journal  # the study and what its trials reported before the disk filled
        (mnt / "filler").unlink()
        again = subprocess.run([*argv[:argv.index("--trials") + 1], "2", *argv[argv.index("--trials") + 2:]],
                               capture_output=True, text=True, env=env, timeout=240)
        assert again.returncode == 0, again.stderr
        states = [t.state.name for t in optuna.load_study(study_name="t", storage=open_storage(url, 1)).trials]
        assert "RUNNING" not in states and states.count("COMPLETE") >= 2, states


# a journal study: killed, resumed by the same command, its best run folder used like any run


def test_a_journal_study_killed_mid_trial_resumes_and_its_best_predicts_and_exports(capsys, tmp_path, table):
    from mlplab.cli.main import main

    out = tmp_path / "tuned"
    first = popen(tune_cmd(table, out, "--trials", "3"))
    url = f"journal:{out / 'journal.log'}"
    wait_for(lambda: (out / "journal.log").exists() and running(url, "tuned", first.pid), what="a trial to start")
    first.send_signal(signal.SIGKILL)  # mid-trial: that trial stays RUNNING in the journal
    first.wait(timeout=30)
    killed = running(url, "tuned", first.pid)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch's default: every core
    again = subprocess.run(tune_cmd(table, out, "--trials", "3", "--workers", "2"), capture_output=True, text=True,
                           env={**env, "MPLBACKEND": "Agg"}, timeout=240)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="tuned", storage=open_storage(url, heartbeat=1))
    threads = {t.user_attrs["threads"] for t in study.trials if t.user_attrs.get("pid") not in (None, first.pid)}
    assert threads == {max(1, len(os.sched_getaffinity(0)) // 2)}  # two workers split the cores
    trials = rows(out / "trials.csv")
    by_number = {int(r["number"]): r["state"] for r in trials}
    assert killed and all(by_number[n] == "FAIL" for n in killed)  # its process gone: failed, and made up
    assert sum(s in ("COMPLETE", "PRUNED") for s in by_number.values()) >= 3
    for name in ("history.png", "parallel_coordinates.png", "journal.log", "tune.json"):
        assert (out / name).stat().st_size > 0, name
    complete = [r for r in trials if r["state"] == "COMPLETE"]
    best = max(complete, key=lambda r: float(r["value"]))
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert metrics["val_roc_auc"] == pytest.approx(float(best["value"]))
    assert f"best run folder: {out / 'best'}" in again.stdout
    # the best run folder feeds predict and export unchanged
    assert main(["predict", str(out / "best"), "--data", str(table), "--out", str(tmp_path / "p.csv")]) == 0
    assert len(rows(tmp_path / "p.csv")) == 200
    assert main(["export", str(out / "best"), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 0
    assert (tmp_path / "m.pt").stat().st_size > 0
    capsys.readouterr()
    # another study never writes into this folder
    line = error_line(capsys, "tune", "--data", str(table), "--target", "y", "--out", str(out), "--study", "b")
    assert f"{out} holds study 'tuned'" in line and "give another --out" in line


# PostgreSQL: what many machines do


def test_three_workers_share_a_postgres_study_and_one_killed_mid_trial_is_failed_and_made_up(tmp_path, table,
                                                                                             postgres):
    study = "three"
    argv = ["--trials", "4", "--storage", postgres.url, "--study", study, "--heartbeat", "1"]
    workers = [popen(tune_cmd(table, tmp_path / f"machine{i}", *argv)) for i in range(3)]
    victim = workers[1]

    wait_for(lambda: running(postgres.url, study, victim.pid), timeout=90, what="a trial of worker 1")
    victim.send_signal(signal.SIGKILL)
    for w in (workers[0], workers[2]):
        stdout, stderr = w.communicate(timeout=240)
        assert w.returncode == 0, stderr
    victim.wait(timeout=30)
    trials = load(postgres.url, study).get_trials()
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) >= 4
    # the victim may finish a trial between being seen running one and the kill: the one it was killed in is
    # failed by the others' heartbeat check, never left RUNNING; its retry (Optuna's copy, the victim's pid among
    # its attributes) is queued, and stays WAITING when the others have already made up the 4 trials
    retries = [t for t in trials if "failed_trial" in t.system_attrs]
    killed = [t for t in trials if t.user_attrs.get("pid") == victim.pid and t not in retries
              and t.state.name not in ("COMPLETE", "PRUNED")]
    assert killed and all(t.state.name == "FAIL" for t in killed), [t.state.name for t in killed]
    assert {t.system_attrs["failed_trial"] for t in retries} == {t.number for t in killed}
    assert all(t.state.name != "RUNNING" for t in trials), [t.state.name for t in trials]
    finished = {t.user_attrs["pid"] for t in trials if t.state.name == "COMPLETE"}
    assert finished - {victim.pid} == {workers[0].pid, workers[2].pid}
    local = {r["number"] for i in (0, 2) for r in rows(tmp_path / f"machine{i}" / "trials.csv")
             if (tmp_path / f"machine{i}" / r["folder"]).exists()}
    assert {str(t.number) for t in trials if t.state.name == "COMPLETE"} <= local  # each trial's folder somewhere


def test_a_lost_database_is_one_line_exit_2_and_the_finished_trials_stay(tmp_path, table, postgres):
    study = "lost"
    worker = popen(tune_cmd(table, tmp_path / "t", "--trials", "100", "--storage", postgres.url, "--study", study,
                            "--heartbeat", "1"))
    wait_for(lambda: (tmp_path / "t" / "trials" / "trial-0001").exists(), timeout=90, what="a finished trial")
    postgres.stop()
    try:
        _, stderr = worker.communicate(timeout=120)
    finally:
        postgres.restart()
    assert worker.returncode == 2
    errors = [line for line in stderr.strip().splitlines() if not line.startswith("mlplab: note:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert errors[0].startswith("mlplab: error: lost the study's storage postgresql://postgres@127.0.0.1")
    assert "run the same command again once it is back" in errors[0]
    finished = [s for s in states(load(postgres.url, study)) if s in ("COMPLETE", "PRUNED")]
    assert len(finished) >= 1
