"""The CLI end to end, in real subprocesses: run folder contents, progress output, errors."""

import json
import os
import tomllib
from pathlib import Path

import pytest

from mlplab.training.fit import History

PNG = b"\x89PNG\r\n\x1a\n"


def folder_of(stdout: str) -> Path:
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("run folder: "), last
    return Path(last.removeprefix("run folder: "))


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``mlplab train`` with no flags but --out: digits, the defaults."""
    from conftest import run_cli

    out = tmp_path_factory.mktemp("runs")
    result = run_cli("train", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result, folder_of(result.stdout), out


def test_default_train_reaches_95_percent_on_digits(default_run):
    result, folder, out = default_run
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95
    assert folder.parent == out and folder.name.endswith("-digits")


def test_run_folder_contents(default_run):
    _, folder, _ = default_run
    names = {p.name for p in folder.iterdir()}
    assert {"config.toml", "history.csv", "metrics.json", "model.safetensors", "learning_curves.png",
            "predictions.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    config = tomllib.loads((folder / "config.toml").read_text())
    assert config["dataset"] == "digits" and config["hidden"] == [256] and config["epochs"] == 20
    history = History.from_csv(folder / "history.csv")
    assert [r["epoch"] for r in history.rows] == list(range(1, 21))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"test_accuracy", "test_loss", "train_loss", "parameters", "device"} <= set(metrics)
    assert metrics["test_accuracy"] == pytest.approx(history.rows[-1]["test_accuracy"])
    assert metrics["parameters"] == 64 * 256 + 256 + 256 * 10 + 10
    for png in ("learning_curves.png", "predictions.png"):
        data = (folder / png).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    from safetensors.torch import load_file
    weights = load_file(str(folder / "model.safetensors"))
    assert weights["1.weight"].shape == (256, 64) and weights["3.bias"].shape == (10,)


def test_progress_is_one_line_per_epoch_when_not_a_terminal(default_run):
    result, _, _ = default_run
    lines = result.stdout.strip().splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 20 and epoch_lines[0].startswith("epoch  1/20")
    assert "train_loss" in epoch_lines[0] and "test_acc" in epoch_lines[0]
    assert len(lines) == 23                                  # 20 epochs, the rows, the summary, the folder
    assert lines[20] == "rows: 1,077 trained · 360 validated · 360 tested"   # digits' 1,797 rows, 60/20/20


def test_config_file_round_trip_and_flags_override(default_run, tmp_path, cli):
    _, folder, _ = default_run
    result = cli("train", "--config", str(folder / "config.toml"), "--epochs", "2", "--quiet",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1                     # --quiet: only the folder line
    again = folder_of(result.stdout)
    config = tomllib.loads((again / "config.toml").read_text())
    assert config["epochs"] == 2 and config["hidden"] == [256]
    first = History.from_csv(folder / "history.csv").rows[1]
    second = History.from_csv(again / "history.csv").rows[1]
    assert first["test_loss"] == pytest.approx(second["test_loss"], rel=1e-6)   # same seed, same numbers


def test_flags_reach_the_model(tmp_path, cli):
    result = cli("train", "--dataset", "iris", "--hidden", "8,6", "--activation", "tanh,sigmoid",
                 "--dropout", "0.1", "--init", "xavier_uniform", "--optimizer", "adam", "--lr", "0.01",
                 "--epochs", "3", "--batch-size", "16", "--seed", "4", "--device", "cpu", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((folder_of(result.stdout) / "config.toml").read_text())
    assert config["hidden"] == [8, 6] and config["activation"] == ["tanh", "sigmoid"]
    assert config["optimizer"] == "adam" and config["seed"] == 4


@pytest.mark.parametrize("args, needle", [
    (["--activation", "nosuch"], "valid activations: elu, gelu, identity, leaky_relu, relu, sigmoid"),
    (["--dataset", "cifar"], "valid datasets:"),
    (["--optimizer", "lbfgs"], "valid optimizers:"),
    (["--init", "glorot"], "valid inits:"),
    (["--loss", "hinge"], "valid losses:"),
    (["--lr", "0"], "lr must be positive"),
    (["--epochs", "-1"], "epochs must be positive"),
    (["--hidden", "12,x"], "hidden widths"),
    (["--hidden", "0"], "positive integers"),
    (["--dropout", "1.5"], "dropout must be in [0, 1)"),
    (["--lr", "fast"], "invalid float value"),
    (["--nosuch-flag"], "unrecognized arguments"),
    (["--config", "missing.toml"], "not found"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(args, needle, tmp_path, cli):
    result = cli("train", *args, "--out", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_summary_prints_the_d2l_counts(cli):
    result = cli("summary", "--dataset", "fashion-mnist", "--hidden", "256")
    assert result.returncode == 0, result.stderr
    assert "784·256 + 256 = 200,960" in result.stdout and "203,530" in result.stdout


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.returncode == 0 and "train" in result.stdout and "summary" in result.stdout


def test_run_files_are_readable_by_others(default_run):
    import os
    import stat

    _, folder, _ = default_run
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((folder / "metrics.json").stat().st_mode)
    assert mode == 0o666 & ~umask


def test_ctrl_c_in_compare_names_the_member_and_how_to_continue(tmp_path):
    """SIGINT while a compare member trains: exit 130 with one line naming the member's resume command."""
    import signal
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "mlplab", "compare", "--dataset", "digits", "--epochs", "400",
                          "--grid", "lr=0.01,0.1", "--out", str(tmp_path)], stderr=subprocess.PIPE, text=True,
                         env={"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    deadline = time.time() + 120
    while not list(tmp_path.glob("*/*/seed0/*/checkpoint.safetensors")) and time.time() < deadline:
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=120)[1].strip()
    assert p.returncode == 130 and len(err.splitlines()) == 1, err
    assert "mlplab train --resume" in err and "0 of 2 members finished" in err


@pytest.mark.parametrize("sig,code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_sigterm_exits_143_and_ctrl_c_130_with_the_same_line(tmp_path, sig, code):
    """A real ``mlplab train`` stopped after its first checkpoint: 128 + the signal's number, as a shell reports
    it (was: 130 after SIGTERM too), and the same one line naming the resume command."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ONE_THREAD, last_error, small_table

    data, out = small_table(tmp_path / "t.csv"), tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "mlplab", "train", "--data", str(data), "--target", "y", "--epochs",
                          "5000", "--hidden", "8", "--quiet", "--baselines", "none", "--out", str(out)],
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "MPLBACKEND": "Agg", **ONE_THREAD})
    deadline = time.time() + 120
    while not list(out.glob("*/checkpoint.safetensors")) and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(getattr(signal, sig))
    err = last_error(p.communicate(timeout=120)[1])
    assert p.returncode == code and "mlplab train --resume" in err, (p.returncode, err)


# ---- the executable's exit (mlplab.cli.main.command) -------------------------------------------------------

COMMAND = """
import atexit, sys, threading, time
from mlplab.cli.main import command
atexit.register(lambda: print("atexit ran", flush=True))
if "thread" in sys.argv[1:]:
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished", flush=True))).start()
print("buffered before the command", end=" ")  # not flushed: stdout is a pipe, so block-buffered
sys.argv = ["mlplab", "train", "--data", "nowhere.csv", "--target", "y"]
command()
"""


@pytest.mark.parametrize("thread", [False, True])
def test_the_executable_keeps_its_exit_code_output_atexit_functions_and_running_threads(tmp_path, thread):
    """command() skips Python's module teardown, never what must happen at exit: buffered output reaches the
    pipe, atexit functions run, the exit code is main()'s, and a thread still running is waited for."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", COMMAND, *(["thread"] if thread else [])], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip() == "mlplab: error: data file nowhere.csv not found; check the --data path"
    assert r.stdout.startswith("buffered before the command") and "atexit ran" in r.stdout
    assert ("thread finished" in r.stdout) == thread
    if thread:
        assert r.stdout.index("thread finished") < r.stdout.index("atexit ran")  # waited for, then the exit

