"""Shared fixtures: the real Fashion-MNIST folder (skipped with a reason when absent), a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
import torch

REPO = Path(__file__).resolve().parents[1]

# CI replays the same generated cases every run (a red CI is then reproducible); locally hypothesis explores.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def fashion_mnist_dir() -> Path | None:
    """$MLPLAB_FASHION_MNIST, else ../shared/data/fashion-mnist beside the repo; None when absent."""
    env = os.environ.get("MLPLAB_FASHION_MNIST")
    folder = Path(env) if env else REPO.parent / "shared" / "data" / "fashion-mnist"
    return folder if (folder / "train-images-idx3-ubyte.gz").exists() else None


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    folder = fashion_mnist_dir()
    if folder is None:
        pytest.skip("real Fashion-MNIST not found: set MLPLAB_FASHION_MNIST or put the four IDX .gz files in "
                    "../shared/data/fashion-mnist")
    return folder


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
