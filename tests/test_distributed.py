"""DDP under torchrun on CPU (gloo, 2 processes): the same numbers as one process with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch.distributed as dist
from conftest import run_cli

from mlplab.training.distributed import launched, rank_and_world, shard

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="this torch build has no gloo backend")

ARGS = ["train", "--dataset", "digits", "--hidden", "32", "--epochs", "3", "--batch-size", "64", "--lr", "0.1",
        "--device", "cpu", "--seed", "5"]


def test_shard_splits_a_global_batch_into_contiguous_near_equal_parts():
    import torch

    batch = torch.arange(7)
    parts = [shard(batch, r, 2) for r in range(2)]
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6]]
    assert rank_and_world() == (0, 1) and not launched()


def torchrun(out) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "mlplab", *ARGS, "--out", str(out)]
    # PYTHONFAULTHANDLER: a rank that dies by a signal prints every thread's Python stack first
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONFAULTHANDLER": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


def test_torchrun_two_processes_match_one_process(tmp_path):
    one = run_cli(*ARGS, "--quiet", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    two = torchrun(tmp_path / "two")
    assert two.returncode == 0, two.stderr[:4000] + "\n...\n" + two.stderr[-2000:]
    folders = [p for p in (tmp_path / "two").iterdir()]
    assert len(folders) == 1, folders                               # only rank 0 wrote a run folder
    assert two.stdout.count("run folder:") == 1 and two.stdout.count("epoch 3/3") == 1  # rank 0 prints
    (folder_one,) = (tmp_path / "one").iterdir()
    m1 = json.loads((folder_one / "metrics.json").read_text())
    m2 = json.loads((folders[0] / "metrics.json").read_text())
    for key in ("train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy", "test_accuracy"):
        assert m2[key] == pytest.approx(m1[key], rel=1e-4, abs=1e-6), key
