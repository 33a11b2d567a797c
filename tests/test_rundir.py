"""The run folder's files: a failed write (real RLIMIT_FSIZE, a real full tmpfs) names the file and keeps the
previous one whole; JSON is standard; RunLock keeps a second process out."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import tmpfs

from mlplab.runs.rundir import (
    RunLock,
    WriteFailed,
    load_weights,
    save_weights,
    write_json,
    write_text,
)

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}


def python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=ENV, timeout=120, **kwargs)


def test_a_file_size_limit_names_the_file_and_keeps_the_previous_checkpoint(tmp_path):
    """A real RLIMIT_FSIZE in a child process: safetensors' own error becomes WriteFailed (an OSError)."""
    done = python(f"""
        import resource, torch
        from mlplab.config import TrainConfig
        from mlplab.runs.checkpoint import save_checkpoint, load_checkpoint
        from mlplab.runs.rundir import WriteFailed
        from mlplab.training.fit import History
        run = {str(tmp_path)!r}
        model = torch.nn.Linear(64, 64)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        path = save_checkpoint(run, config=TrainConfig(), history=History([{{"epoch": 1}}]), model=model, opt=opt)
        before = path.read_bytes()
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, resource.RLIM_INFINITY))
        try:
            save_checkpoint(run, config=TrainConfig(), history=History([{{"epoch": 2}}]), model=model, opt=opt)
        except WriteFailed as e:
            assert isinstance(e, OSError) and e.no_space and e.path == path, e
            print(e)
        assert path.read_bytes() == before
        assert load_checkpoint(run).epoch == 1
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"no space left on device (or file size limit) writing {tmp_path}/checkpoint.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]  # no temporary left


def test_cli_under_a_file_size_limit_is_one_line_naming_the_file(tmp_path):
    """The adversarial repro: ``ulimit -f 247`` during ``mlplab train``."""
    out = tmp_path / "odf"
    done = subprocess.run(["bash", "-c", f"ulimit -f 247; exec {sys.executable} -m mlplab train --dataset digits "
                           f"--epochs 12 --optimizer adam --lr 0.001 --quiet --out {out}"],
                          capture_output=True, text=True, env=ENV, timeout=300)
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no space left on device (or file size limit) writing" in lines[0]
    assert ".safetensors" in lines[0] or ".csv" in lines[0] or ".png" in lines[0], lines[0]
    for run in out.iterdir() if out.exists() else []:  # whatever the run kept is whole, and no temporary is left
        assert not list(run.glob(".*.tmp"))
        if (run / "checkpoint.safetensors").exists():
            from mlplab.runs.checkpoint import load_checkpoint

            assert load_checkpoint(run).epoch >= 1


@pytest.fixture
def full_disk(tmp_path):
    """A real 64 KiB tmpfs (needs root and mount; skipped elsewhere), filled up but for a few KiB."""
    with tmpfs(tmp_path, "64k") as mnt:
        yield mnt


def test_enospc_writing_config_or_weights_names_the_file(full_disk):
    write_text(full_disk / "config.toml", "lr = 0.1\n")
    with pytest.raises(WriteFailed, match=f"no space left on device .* writing {full_disk}/config.toml"):
        write_text(full_disk / "config.toml", "x" * 200_000)
    assert (full_disk / "config.toml").read_text() == "lr = 0.1\n"
    with pytest.raises(OSError, match=f"writing {full_disk}/model.safetensors"):
        save_weights(torch.nn.Linear(200, 200), full_disk / "model.safetensors")
    assert sorted(p.name for p in full_disk.iterdir()) == ["config.toml"]


@pytest.mark.parametrize("command", [["train"], ["compare", "--grid", "lr=0.1,0.2"], ["cv", "--folds", "2"]])
def test_a_full_disk_leaves_no_out_folder_that_was_not_there_before(tmp_path, capsys, command):
    """``--out NEW/deeper`` on a real full tmpfs: one line, exit 2, and neither NEW nor NEW/deeper is left
    (was: both stayed, empty); a folder that was there before stays."""
    from conftest import fill, small_table

    from mlplab.cli.main import main

    data = small_table(tmp_path / "t.csv")
    with tmpfs(tmp_path, "64k") as mnt:
        (mnt / "old").mkdir()
        fill(mnt, 0)
        for out in (mnt / "new" / "deeper", mnt / "old" / "deeper"):
            assert main([*command, "--data", str(data), "--target", "y", "--epochs", "1", "--hidden", "8", "--quiet",
                         "--baselines", "none", "--out", str(out)]) == 2
            assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
                f"mlplab: error: no space left on device (or file size limit) writing {out}/")
        assert sorted(p.name for p in mnt.rglob("*")) == ["filler", "old"]


def test_write_json_is_standard_json_with_null_for_non_finite(tmp_path):
    path = write_json(tmp_path / "m.json", {"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -float("inf")}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {"a": None, "b": [1.5, None],
                                                                            "c": {"d": None}}


def test_load_weights_names_the_keys_and_shapes_that_differ(tmp_path):
    save_weights(torch.nn.Sequential(torch.nn.Linear(4, 3)), tmp_path / "model.safetensors")
    other = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2))
    with pytest.raises(ValueError) as e:
        load_weights(other, tmp_path / "model.safetensors")
    msg = str(e.value)
    assert "missing 1.weight, 1.bias" in msg and "0.weight (3, 4) vs (5, 4)" in msg, msg


def test_saved_files_read_like_any_other_file(tmp_path):
    path = save_weights(torch.nn.Linear(2, 2), tmp_path / "model.safetensors")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@contextlib.contextmanager
def locked_by_another_process(folder: Path):
    """A child process holding RunLock(folder) for the block (killed after it); yields the child."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from mlplab.runs.rundir import RunLock
        with RunLock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    with locked_by_another_process(tmp_path) as child:
        with pytest.raises(BlockingIOError, match=f"in use by process {child.pid}"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # a killed holder leaves no lock behind
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_the_same_process_cannot_take_the_lock_twice(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(BlockingIOError, match=str(os.getpid())):
            with RunLock(tmp_path):
                pass


@pytest.mark.parametrize("tamper", ["delete .lock", "replace .lock", "empty .lock"])
def test_removing_or_replacing_the_lock_file_does_not_defeat_the_lock(tmp_path, tamper):
    """The lock is on the open folder itself (flock on its descriptor); .lock only names the holder."""
    with locked_by_another_process(tmp_path):
        lock = tmp_path / ".lock"
        if tamper == "delete .lock":
            lock.unlink()
        elif tamper == "replace .lock":
            lock.unlink()
            lock.write_text("12345\n")
        else:
            lock.write_text("")
        with pytest.raises(BlockingIOError, match="in use by process"):
            with RunLock(tmp_path):
                pass


# A signal that lands inside an import: raised there, it can break a C extension's initialisation (CI saw SIGTERM
# inside matplotlib's ft2font end in "Fatal Python error: PyThreadState_Get"). It must wait for the import.
SLOW_MODULE = """
import os, signal, time
os.kill(os.getpid(), signal.{sig})  # the signal arrives while this module is being imported
time.sleep(0.3)
DONE = True
"""


@pytest.mark.parametrize("guard,sig", [("mlplab.runs.rundir:terminate_raises(Path('x'))", "SIGTERM"),
                                       ("mlplab.cli.main:terminate_interrupts()", "SIGTERM"),
                                       ("mlplab.cli.main:terminate_interrupts()", "SIGINT")])
def test_a_signal_during_an_import_is_raised_once_the_import_has_finished(tmp_path, guard, sig):
    (tmp_path / "slow_module.py").write_text(SLOW_MODULE.format(sig=sig))
    module, call = guard.split(":")
    r = python(f"""
        import importlib, sys, time
        from pathlib import Path
        guard = importlib.import_module({module!r})
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            with guard.{call}:
                import slow_module
                print("imported", slow_module.DONE, flush=True)
                time.sleep(5)
                print("not stopped")
        except KeyboardInterrupt as e:
            print("stopped after the import:", type(e).__name__, "slow_module" in sys.modules)
        """)
    assert r.returncode == 0, r.stderr
    expected = "Terminated" if sig == "SIGTERM" else "KeyboardInterrupt"
    assert r.stdout.splitlines() == ["imported True", f"stopped after the import: {expected} True"]


def test_a_signal_outside_an_import_is_raised_at_once():
    r = python("""
        import os, signal, time
        from mlplab.cli.main import terminate_interrupts
        t = time.perf_counter()
        try:
            with terminate_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
        except KeyboardInterrupt as e:
            print(type(e).__name__, time.perf_counter() - t < 1)
        """)
    assert r.stdout.split() == ["Terminated", "True"], r.stderr
