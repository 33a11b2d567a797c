"""Shared fixtures: the real Fashion-MNIST folder (skipped with a reason when absent), a CLI runner."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]

# CI replays the same generated cases every run (a red CI is then reproducible); locally hypothesis explores.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def shared_data(env: str, folder: str, marker: str) -> Path | None:
    """$ENV, else ../shared/data/FOLDER beside the repo, when it holds MARKER; None when absent."""
    path = Path(os.environ[env]) if os.environ.get(env) else REPO.parent / "shared" / "data" / folder
    return path if (path / marker).exists() else None


def fashion_mnist_dir() -> Path | None:
    """$MLPLAB_FASHION_MNIST, else ../shared/data/fashion-mnist beside the repo; None when absent."""
    return shared_data("MLPLAB_FASHION_MNIST", "fashion-mnist", "train-images-idx3-ubyte.gz")


def tabular_dir() -> Path | None:
    """$MLPLAB_TABULAR, else ../shared/data/tabular beside the repo; None when absent."""
    return shared_data("MLPLAB_TABULAR", "tabular", "bank-full.csv")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    folder = fashion_mnist_dir()
    if folder is None:
        pytest.skip("real Fashion-MNIST not found: set MLPLAB_FASHION_MNIST or put the four IDX .gz files in "
                    "../shared/data/fashion-mnist")
    return folder


@pytest.fixture(scope="session")
def tables() -> Path:
    folder = tabular_dir()
    if folder is None:
        pytest.skip("real tables not found: set MLPLAB_TABULAR or put bank-full.csv, diamonds.csv, titanic.csv "
                    "and penguins.csv in ../shared/data/tabular")
    return folder


def pytest_collection_modifyitems(config, items):
    """Tests marked ``long`` (full training runs, minutes each) run only with MLPLAB_LONG_TESTS=1."""
    if os.environ.get("MLPLAB_LONG_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="a long accuracy check (minutes of training): run with MLPLAB_LONG_TESTS=1 "
                                   "./dev.sh test -m long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # for CLI subprocesses of tiny models, as one_torch_thread in-process


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a small shared machine two threads spin against each other (6x slower seen)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """``python -m mlplab ARGS`` in a real subprocess; returns the CompletedProcess (text)."""
    full_env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlplab", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def one_line_error(capsys, *argv) -> str:
    """``mlplab ARGV`` in-process exits 2 with one line on stderr and no traceback; returns the line."""
    from mlplab.cli.main import main

    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def whole_and_resumed(capsys, tmp_path: Path, args: list[str], epochs: int, stop_after: int) -> tuple[Path, Path]:
    """``mlplab train ARGS`` in-process twice: for ``epochs`` epochs in one go, and for ``stop_after`` epochs then
    ``--resume``d to ``epochs``; returns the two run folders (whole, resumed), each with the same model weights
    and history rows when resuming is exact."""
    from mlplab.cli.main import main

    def run(*more) -> Path:
        assert main([*args, *more]) == 0
        return Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run folder: "))

    whole = run("--epochs", str(epochs), "--out", str(tmp_path / "whole"))
    part = run("--epochs", str(stop_after), "--out", str(tmp_path / "part"))
    assert main(["train", "--resume", str(part), "--epochs", str(epochs), "--quiet"]) == 0
    capsys.readouterr()
    return whole, part


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A real tmpfs of ``size`` (e.g. "64k") mounted at ``folder``/tmpfs for the block: the full disk of the
    disk-full tests (needs root and mount; the test is skipped elsewhere)."""
    mnt = folder / "tmpfs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def fill(mnt: Path, free: int) -> None:
    """Fill the tmpfs at ``mnt`` with one file, ``mnt/filler``, until about ``free`` bytes are left."""
    stat = os.statvfs(mnt)
    size = max(0, stat.f_bavail * stat.f_frsize - free)
    with open(mnt / "filler", "wb") as f:
        f.write(b"\0" * size)


def small_table(path: Path, rows: int = 200, seed: int = 0) -> Path:
    """A CSV of ``rows`` rows: an id, two numbers, a category and a yes/no target ``y``."""
    import random

    rng = random.Random(seed)
    lines = ["id,a,b,c,y"]
    for i in range(rows):
        a, b = rng.random(), rng.random()
        lines.append(f"{i},{a:.3f},{b:.3f},{rng.choice('xyz')},{'yes' if a + b > 1 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def full_disks(tmp_path: Path, capsys, argv: list[str], frees: tuple[int, ...]):
    """``mlplab ARGV --out MNT/out`` on a real 256 KiB tmpfs filled but for each of ``frees`` bytes: checks exit 2,
    one "no space left on device" line naming a file under MNT/out, nothing half-written there, and no MNT/out
    unless it keeps something (it was not there before); yields (MNT/out, that line) for the caller's checks of
    what it kept."""
    from mlplab.cli.main import main

    for free in frees:
        (tmp_path / str(free)).mkdir()
        with tmpfs(tmp_path / str(free), "256k") as mnt:
            fill(mnt, free)
            assert main([*argv, "--out", str(mnt / "out")]) == 2
            err = capsys.readouterr().err.strip().splitlines()[-1]
            assert err.startswith("mlplab: error: no space left on device") and f"writing {mnt}/out/" in err, err
            assert half_written(mnt / "out") == [], half_written(mnt / "out")
            assert not (mnt / "out").exists() or any((mnt / "out").iterdir()), f"{mnt}/out left empty"
            yield mnt / "out", err


def study_folder_kept(out: Path, err: str, marker: str, finished: str, parts: str) -> bool:
    """After ``full_disks``' failed compare or cv: whether ``out`` kept its folder, which then holds ``marker``
    (compare.json, cv.json), its line says how many ``finished`` ("members finished"), and every part trained
    (``parts``: the glob of their config.toml) can be resumed from its checkpoint."""
    from mlplab.runs.checkpoint import load_checkpoint

    kept = list(out.iterdir()) if out.exists() else []
    if kept:
        assert len(kept) == 1 and (kept[0] / marker).is_file()
        assert f"{kept[0]} has " in err and finished in err, err
        trained = [c.parent for c in kept[0].glob(parts)]
        assert trained and all(load_checkpoint(t) is not None for t in trained)
    return bool(kept)


RUN_OWN = ("config.toml", ".lock", "cv.json", "compare.json")  # what a folder holds before anything trained


def half_written(root: Path) -> list[str]:
    """What a failed command must never leave under ``root``: temporaries (``.*.tmp``), empty files under final
    names, and folders below it that are empty or hold nothing but a run's, compare's or cv's own files (nothing
    trained)."""
    bad = [f"temporary {p}" for p in root.rglob(".*.tmp")]
    bad += [f"empty file {p}" for p in root.rglob("*") if p.is_file() and p.stat().st_size == 0]
    for folder in [p for p in root.rglob("*") if p.is_dir()]:
        names = {p.name for p in folder.iterdir()}
        if names <= set(RUN_OWN):
            bad.append(f"untrained folder {folder} holding {sorted(names) or 'nothing'}")
    return bad


def terminated(argv: list[str], out: Path, delay: float, ready: str = "config.toml") -> subprocess.CompletedProcess:
    """``mlplab ARGV`` in a real subprocess, sent SIGTERM ``delay`` seconds after a file matching ``ready`` (a
    glob) appeared anywhere under ``out`` (by default its first config.toml: it has started writing); returns it
    finished, its stderr read."""
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "mlplab", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "MPLBACKEND": "Agg", **ONE_THREAD})
    end = time.monotonic() + 60
    while not list(out.rglob(ready)) and p.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)


def last_error(stderr: str) -> str:
    """The one line a failed command printed after its notes (``mlplab: note: ...``); no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("mlplab: note:")]
    assert len(lines) == 1, stderr
    return lines[0]
