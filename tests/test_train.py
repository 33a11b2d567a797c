"""runs.train: a run of any model type from data to a run folder, and resumed after a SIGKILL exactly as if
it had never stopped (here for a CNN with batch norm and dropout; the MLP case is in test_checkpoint); LeNet
trained by mlplab with d2l's settings against d2l's own loop written out here (long)."""

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from mlplab.runs.checkpoint import load_checkpoint

SCRIPT = """
import sys, numpy as np, mlplab
from mlplab.config import load_config
rng = np.random.default_rng(0)
y = np.arange(600) % 4
x = rng.normal(0, 0.5, size=(600, 12, 12)).astype(np.float32)
for i, c in enumerate(y):
    r, col = divmod(int(c), 2)
    x[i, r * 6:(r + 1) * 6, col * 6:(col + 1) * 6] += 1.0
data = mlplab.Dataset.from_arrays(x, y, name="quadrants")
out, resume = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
if resume:
    mlplab.train(data, config=load_config(resume + "/config.toml"), resume=resume, write=True, progress="quiet")
else:
    mlplab.train(data, model="cnn", spec="conv:8:3:pad1,bn,relu,maxpool:2,dropout:0.2,fc:16,relu", epochs=12,
                 batch_size=32, out=out, progress="quiet", checkpoint_every=0)
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


EPOCHS = 12                                    # the SCRIPT's
FINAL = ("model.safetensors", "metrics.json")  # a run writes these once its last epoch has ended


def wait_for_start(parent: Path, p: subprocess.Popen, old_inode: int | None, timeout: float = 120) -> None:
    """Until the run (re)writes its folder's config.toml: data and model are ready, training begins."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and p.poll() is None:
        for cfg in parent.glob("*/config.toml"):
            with contextlib.suppress(FileNotFoundError):
                if cfg.stat().st_ino != old_inode:
                    return
        time.sleep(0.01)
    raise AssertionError(f"the run did not start (exit {p.poll()}): {p.stderr.read() if p.poll() is not None else ''}")


def wait_for_epoch(parent: Path, p: subprocess.Popen, epoch: int, timeout: float = 300) -> None:
    """Until the running run's history.csv holds `epoch` rows (written with each checkpoint), or it exits."""
    end = time.monotonic() + timeout
    while epoch > 0 and time.monotonic() < end and p.poll() is None:
        for history in parent.glob("*/history.csv"):
            with contextlib.suppress(FileNotFoundError):
                if len(history.read_text().splitlines()) - 1 >= epoch:
                    return
        time.sleep(0.005)


def test_a_cnn_run_killed_at_random_points_resumes_bit_identical(tmp_path):
    def launch(*args):
        return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], env=ENV, stderr=subprocess.PIPE, text=True)

    ref = launch(str(tmp_path / "ref"))
    assert ref.wait(timeout=600) == 0, ref.stderr.read()
    reference = next((tmp_path / "ref").iterdir())
    # from training's start (config.toml) to its last epoch (history.csv), evaluation and checkpoints included
    seconds = (reference / "history.csv").stat().st_mtime - (reference / "config.toml").stat().st_mtime
    parent, before = tmp_path / "runs", tmp_path / "before-kill"
    parent.mkdir()
    args = (str(parent),)
    kills, tries = [], []  # the epoch each SIGKILL left in the checkpoint (0: none yet); every try, as text
    while len(kills) < 2 or not any(kills):  # two kills mid-run, one at least after a checkpoint
        assert len(tries) < 10, f"no kill landed mid-run often enough: {tries}"
        run = next(parent.iterdir(), None)
        shutil.rmtree(before, ignore_errors=True)
        if run is not None:  # to undo a try whose run ended before the kill came
            shutil.copytree(run, before)
        checkpoint = load_checkpoint(run) if run is not None else None
        done = checkpoint.epoch if checkpoint else 0
        # a random epoch still to come; at a random point inside it. Waiting for that epoch's row rather than
        # sleeping a share of the reference's time keeps the kills mid-run when this machine is busier than
        # when the reference ran
        target = random.randint(done, EPOCHS - 1)
        delay = random.uniform(0.05, 0.95) * seconds / EPOCHS
        inode = (run / "config.toml").stat().st_ino if run is not None else None
        p = launch(*args)
        wait_for_start(parent, p, inode)
        wait_for_epoch(parent, p, target)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        code = p.wait(timeout=60)
        assert code in (0, -signal.SIGKILL), (code, p.stderr.read())  # ended, or killed
        run = next(parent.iterdir())
        checkpoint = load_checkpoint(run)
        killed_at = checkpoint.epoch if checkpoint else 0
        if code == 0 or killed_at == EPOCHS or any((run / name).exists() for name in FINAL):  # no kill mid-run
            tries.append(f"{delay:.2f} s after epoch {target}: exit {code} at epoch {killed_at}, ended; undone")
            shutil.rmtree(run)
            if before.exists():
                shutil.copytree(before, run)
            continue
        assert code == -signal.SIGKILL, (code, p.stderr.read())
        assert killed_at < EPOCHS and not any((run / name).exists() for name in FINAL)
        kills.append(killed_at)
        tries.append(f"{delay:.2f} s after epoch {target}: SIGKILL at epoch {killed_at}")
        if checkpoint is not None:
            args = (str(parent), str(run))
        elif len(args) == 1:  # killed before its first epoch ended: nothing to resume, start again
            shutil.rmtree(run)
    final = launch(*args)
    assert final.wait(timeout=600) == 0, final.stderr.read()
    run = next(parent.iterdir())
    assert [p.name for p in parent.iterdir()] == [run.name]
    got, want = load_file(str(run / "model.safetensors")), load_file(str(reference / "model.safetensors"))
    assert got.keys() == want.keys() and any("running_mean" in k for k in got)
    assert all((got[k] == want[k]).all() for k in got), f"tries: {tries}"
    strip = lambda path: [line.rsplit(",", 1)[0] for line in Path(path).read_text().splitlines()]  # noqa: E731
    assert strip(run / "history.csv") == strip(reference / "history.csv")


def test_an_early_stopped_run_resumed_past_its_best_epoch_restores_the_same_best_weights(tmp_path):
    """The best epoch's weights travel in the checkpoint, so a run stopped after it still ends with them."""
    import numpy as np

    import mlplab
    from mlplab.config import load_config

    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 40))
    y = ((x[:, 0] + 0.8 * rng.normal(size=160)) > 0).astype(int)
    data = mlplab.Dataset.from_arrays(x, y, task="multiclass", val_fraction=0.3)
    keys = dict(hidden=[128], optimizer="adam", lr=0.01, batch_size=16, early_stopping=3, progress="quiet")
    whole = mlplab.train(data, epochs=200, out=str(tmp_path / "whole"), **keys)
    best, stopped = whole.history.best_epoch, whole.history.stopped_epoch
    assert stopped == best + 3 < 200
    part = mlplab.train(data, epochs=best + 1, out=str(tmp_path / "part"), **keys)   # past the best epoch
    assert load_checkpoint(part.path).state.best is not None
    config = load_config(part.path / "config.toml").replace(epochs=200)
    resumed = mlplab.train(data, config=config, resume=part.path, write=True, progress="quiet")
    assert (resumed.history.best_epoch, resumed.history.stopped_epoch) == (best, stopped)
    got, want = load_file(str(part.path / "model.safetensors")), load_file(str(whole.path / "model.safetensors"))
    assert all((got[k] == want[k]).all() for k in want)


def test_a_disk_that_fills_mid_training_names_the_file_and_resumes_bit_identical(tmp_path, cli):
    """RLIMIT_FSIZE stands in for a full disk: the checkpoint grows a little each epoch (its history), so a limit
    just under the last epoch's size stops the run near its end with one line; resuming with room finishes it."""
    import resource

    args = ["train", "--dataset", "digits", "--epochs", "12", "--optimizer", "adam", "--lr", "0.001", "--quiet"]
    r = cli(*args, "--out", str(tmp_path / "ref"), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    reference = next((tmp_path / "ref").iterdir())
    limit = (reference / "checkpoint.safetensors").stat().st_size - 400          # ~2 history rows short

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run([sys.executable, "-m", "mlplab", *args, "--out", str(tmp_path / "runs")], env=ENV,
                          capture_output=True, text=True, preexec_fn=cap, timeout=600)
    run = next((tmp_path / "runs").iterdir())
    lines = full.stderr.strip().splitlines()
    assert full.returncode == 2 and len(lines) == 1, full.stderr
    assert "checkpoint.safetensors" in lines[0] and f"mlplab train --resume {run}" in lines[0]
    stopped = load_checkpoint(run).epoch
    assert 1 <= stopped < 12 and not (run / "model.safetensors").exists()
    r = cli("train", "--resume", str(run), "--quiet", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    got, want = load_file(str(run / "model.safetensors")), load_file(str(reference / "model.safetensors"))
    assert all((got[k] == want[k]).all() for k in want), f"stopped at epoch {stopped}"


# the free space a 200-row table run meets: none, its first checkpoint, its second one, its final files and plots
FREE = (0, 8 << 10, 44 << 10, 100 << 10)


def test_a_full_disk_at_any_point_of_a_table_run_leaves_nothing_or_a_run_that_resumes(tmp_path, capsys,
                                                                                      one_torch_thread):
    """``mlplab train --out`` on a real tmpfs filled but for FREE bytes: one line naming the file, exit 2, and
    either no run folder (nothing was trained) or one that says how to resume, and resumes once there is room."""
    from conftest import fill, half_written, small_table, tmpfs

    from mlplab.cli.main import main
    from mlplab.runs.run import load_run

    data = small_table(tmp_path / "t.csv")
    outcomes = set()
    for free in FREE:
        (tmp_path / str(free)).mkdir()
        with tmpfs(tmp_path / str(free), "256k") as mnt:
            fill(mnt, free)
            argv = ["train", "--data", str(data), "--target", "y", "--epochs", "2", "--hidden", "8", "--quiet",
                    "--device", "cpu", "--baselines", "none", "--out", str(mnt / "out")]
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()[-1]  # the notes on the table's columns come first
            assert err.startswith("mlplab: error: no space left on device") and f"writing {mnt}/out/" in err, err
            assert half_written(mnt / "out") == [], half_written(mnt / "out")
            runs = list((mnt / "out").iterdir()) if (mnt / "out").exists() else []  # gone: it was not there before
            assert runs or not (mnt / "out").exists()
            if runs:  # it trained: the folder says how to continue, and continues once there is room
                assert len(runs) == 1 and f"mlplab train --resume {runs[0]}" in err, err
                (mnt / "filler").unlink()
                assert main(["train", "--resume", str(runs[0]), "--quiet"]) == 0, capsys.readouterr().err
                assert load_run(runs[0]).history.rows[-1]["epoch"] == 2
            outcomes.add("resumable" if runs else "gone")
    assert outcomes == {"gone", "resumable"}


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_sigterm_during_a_table_run_leaves_a_run_that_resumes_and_no_temporary(tmp_path, delay, one_torch_thread):
    """A real ``mlplab train`` sent SIGTERM once it has started writing (before or after its first checkpoint):
    one line, exit 143 (128 + SIGTERM; Ctrl-C is 130), no traceback, no temporary or lock note; a folder with no checkpoint yet is removed and
    the line says nothing was kept, else the line names the folder and its resume command, and it resumes."""
    from conftest import last_error, small_table, terminated

    from mlplab.cli.main import main

    data, out = small_table(tmp_path / "t.csv"), tmp_path / "out"
    done = terminated(["train", "--data", str(data), "--target", "y", "--epochs", "500", "--hidden", "8", "--quiet",
                       "--baselines", "none", "--schedule", "none", "--out", str(out)], out, delay)
    err = last_error(done.stderr)
    assert done.returncode == 143 and not list(out.rglob(".*.tmp")) and not list(out.rglob(".lock")), err
    runs = list(out.iterdir()) if out.exists() else []
    if not runs:  # stopped before the first checkpoint: nothing to resume, nothing left (not even --out)
        assert not out.exists()
        assert err == "mlplab: interrupted before its first epoch was saved; nothing was kept", err
        return
    (run,) = runs
    checkpoint = load_checkpoint(run)
    assert checkpoint is not None and f"keeps epoch {checkpoint.epoch} of 500" in err, err
    assert err.endswith(f"mlplab train --resume {run}"), err
    epochs = checkpoint.epoch + 1
    assert main(["train", "--resume", str(run), "--epochs", str(epochs), "--quiet"]) == 0
    assert len((run / "history.csv").read_text().splitlines()) == epochs + 1


def d2l_lenet() -> "torch.nn.Sequential":
    """LeNet-5 as d2l §6.6 writes it, by hand: sigmoid, average pooling, Xavier-uniform weights (d2l's init_cnn)."""
    import torch
    from torch import nn

    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
                        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
                        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net


def d2l_train(net, data, lr: float, batch_size: int, epochs: int) -> float:
    """d2l's train_ch6 loop on mlplab's arrays (pixels / 255, as ToTensor): SGD, shuffled minibatches; test accuracy."""
    import torch

    opt, loss = torch.optim.SGD(net.parameters(), lr=lr), torch.nn.CrossEntropyLoss()
    x, y = data.x_train.unsqueeze(1), data.y_train           # (N, 1, 28, 28)
    for _ in range(epochs):
        net.train()
        for rows in torch.randperm(len(x)).split(batch_size):
            opt.zero_grad()
            loss(net(x[rows]), y[rows]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return (net(data.x_test.unsqueeze(1)).argmax(1) == data.y_test).float().mean().item()


@pytest.mark.long
def test_lenet_with_d2l_settings_is_within_a_point_of_a_hand_written_torch_loop(fashion_dir):
    import torch

    import mlplab
    from mlplab.data.load import load_dataset

    data = load_dataset("fashion-mnist", data_dir=fashion_dir)
    run = mlplab.train(data, model="lenet", seed=0, progress="quiet", device="cpu")  # d2l's settings by default
    c = run.config
    assert (c.optimizer, c.lr, c.batch_size, c.epochs, c.init) == ("sgd", 0.9, 256, 10, ("xavier_uniform",))
    torch.manual_seed(0)
    reference = d2l_train(d2l_lenet(), data, lr=0.9, batch_size=256, epochs=10)
    ours = run.metrics["test_accuracy"]
    assert reference > 0.7, f"the hand-written d2l loop itself did not train ({reference:.4f})"
    assert abs(ours - reference) <= 0.01, f"mlplab {ours:.4f} vs d2l's loop {reference:.4f}"

