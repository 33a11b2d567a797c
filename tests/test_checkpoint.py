"""Checkpoints and resume: exact continuation (also after SIGKILL), conflicts refused, pickles never run,
NaN stops with the last good checkpoint kept, Ctrl-C exits 130 naming the resume command."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import whole_and_resumed
from safetensors.torch import load_file

from mlplab.cli.main import main
from mlplab.config import TrainConfig, dump_config
from mlplab.data.load import load_dataset
from mlplab.models.build import build_model
from mlplab.runs.checkpoint import (
    FILE,
    Checkpointer,
    capture_rng,
    check_resume,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from mlplab.runs.train import train
from mlplab.training.fit import History, NonFiniteLoss, fit
from mlplab.training.optim import build_optimizer

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---- the file itself ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("optimizer,extra", [("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {}),
                                             ("rmsprop", {"momentum": 0.5}), ("adadelta", {})])
def test_round_trip_restores_model_optimizer_and_history(tmp_path, impl, optimizer, extra):
    config = TrainConfig(dataset="iris", hidden=(8,), optimizer=optimizer, lr=0.01, impl=impl, device="cpu",
                         **extra)
    model = build_model(config, (4,), "multiclass", 3)
    opt = build_optimizer(config, model)
    for _ in range(3):  # fill the optimizer state (momentum buffers, step counts, squares)
        opt.zero_grad()
        model(torch.randn(5, 4)).square().mean().backward()
        opt.step()
    history = History([{"epoch": 1, "train_loss": 0.1 + 1e-17, "seconds": 0.5},
                       {"epoch": 2, "train_loss": float(np.float32(0.3)), "seconds": 0.25}])
    save_checkpoint(tmp_path, config=config, history=history, model=model, opt=opt)
    ck = load_checkpoint(tmp_path)
    assert ck.epoch == 2 and ck.config == config and ck.history.rows == history.rows
    assert_same_weights(ck.model, model.state_dict())
    model2 = build_model(config, (4,), "multiclass", 3)
    opt2 = build_optimizer(config, model2)
    opt2.load_state_dict(ck.optimizer)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys() and a["state"]
    for i in a["state"]:
        for key, value in a["state"][i].items():
            other = b["state"][i][key]
            assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other, key


def test_rng_states_round_trip(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.rand(3), np.random.rand(3), random.random()
    model = torch.nn.Linear(2, 1)
    save_checkpoint(tmp_path, config=TrainConfig(), history=History(), model=model,
                    opt=torch.optim.SGD(model.parameters(), lr=0.1))
    expected = (torch.rand(4), np.random.rand(4), random.random())
    restore_rng(load_checkpoint(tmp_path).rng)
    assert torch.equal(torch.rand(4), expected[0])
    assert np.array_equal(np.random.rand(4), expected[1])
    assert random.random() == expected[2]
    assert set(capture_rng()) >= {"torch_cpu", "numpy", "python"}


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    save_checkpoint(tmp_path, config=TrainConfig(), history=History([{"epoch": 1, "train_loss": 1.0}]),
                    model=model, opt=opt)
    before = (tmp_path / FILE).read_bytes()
    bad = History([{"epoch": 2, "train_loss": 0.5, "oops": object()}])  # not JSON: fails mid-save
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, config=TrainConfig(), history=bad, model=model, opt=opt)
    assert (tmp_path / FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE]  # no temporary file left behind


# ---- resume ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl,optimizer", [("torch", "adam"), ("scratch", "sgd")])
def test_resume_in_process_is_bit_identical(tmp_path, impl, optimizer):
    config = TrainConfig(dataset="iris", hidden=(16, 8), dropout=(0.3,), optimizer=optimizer, lr=0.05,
                         momentum=0.0 if optimizer == "adam" else 0.9, impl=impl, batch_size=16, epochs=4,
                         device="cpu", out=str(tmp_path / "runs"))
    whole = train(config=config, write=True, progress="quiet")
    part = train(config=config.replace(epochs=2), write=True, progress="quiet")
    assert load_checkpoint(part.path).epoch == 2
    torch.manual_seed(12345)  # global RNG noise between runs must not matter: resume restores it
    resumed = train(config=config, write=True, progress="quiet", resume=part.path)
    assert resumed.path == part.path
    assert without_time(resumed.history.rows) == without_time(whole.history.rows)
    assert_same_weights(load_file(str(part.path / "model.safetensors")),
                        load_file(str(whole.path / "model.safetensors")))
    assert len((part.path / "history.csv").read_text().splitlines()) == 1 + 4  # curves continue, no restart


@pytest.mark.parametrize("every,early,saved", [
    (3600.0, None, [1, 1, 1, 1, 5]),   # the first epoch, then the last
    (0.0, None, [1, 2, 3, 4, 5]),      # every epoch
    (3600.0, 1, [1, 2]),               # early stopping stops after epoch 2 (lr ~0: no gain on epoch 1), saved
])
def test_checkpoints_are_saved_first_then_every_so_often_and_last(tmp_path, every, early, saved):
    config = TrainConfig(dataset="iris", hidden=(8,), optimizer="sgd", lr=0.05 if early is None else 1e-30,
                         batch_size=16, epochs=5, device="cpu", early_stopping=early)
    (tmp_path / "config.toml").write_text(dump_config(config))
    data = load_dataset("iris", seed=0)
    model = build_model(config, data.input_shape, data.task, data.output_size)
    seen = []
    fit(model, data, config, callbacks=[Checkpointer(tmp_path, config, every=every),
                                        lambda epoch, *_: seen.append(load_checkpoint(tmp_path).epoch)])
    assert seen == saved


def test_resume_with_an_lr_schedule_is_bit_identical_and_keeps_its_epochs(tmp_path):
    """Stopped after epoch 2 of 4 by a KeyboardInterrupt in fit's callbacks, then resumed by train()."""
    config = TrainConfig(dataset="iris", hidden=(16,), optimizer="sgd", lr=0.1, momentum=0.9, schedule="cosine",
                         batch_size=16, epochs=4, device="cpu", out=str(tmp_path / "runs"))
    whole = train(config=config, write=True, progress="quiet")
    run = tmp_path / "stopped"
    run.mkdir()
    (run / "config.toml").write_text(dump_config(config))
    data = load_dataset("iris", seed=config.seed)
    model = build_model(config, data.input_shape, data.task, data.output_size)

    def stop(epoch, *_):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model, data, optimizer="sgd", lr=0.1, optimizer_args=config.optimizer_args(), schedule="cosine",
            epochs=4, batch_size=16, seed=config.seed, device="cpu", callbacks=[Checkpointer(run, config, every=0), stop])
    assert load_checkpoint(run).epoch == 2
    with pytest.raises(ValueError, match="schedule 'cosine' spans its 4 epochs"):
        check_resume(run, config.replace(epochs=6))
    resumed = train(config=config, write=True, progress="quiet", resume=run)
    assert without_time(resumed.history.rows) == without_time(whole.history.rows)
    assert_same_weights(resumed.model.state_dict(), whole.model.state_dict())


KILL_ARGS = ["--dataset", "digits", "--hidden", "256", "--dropout", "0.2", "--optimizer", "adam", "--lr", "0.01",
             "--batch-size", "16", "--epochs", "12", "--device", "cpu", "--quiet", "--checkpoint-every", "0"]


# Imports mlplab once (seconds), then forks one real process per run: killing and resuming costs no start-up.
ZYGOTE = r"""
import json, os, sys, traceback
from mlplab.cli.main import main
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # keep stdout for the pid / exit-code protocol
        code = 99
        try:
            code = main(json.loads(line))
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def _wait_for_start(run_parent: Path, old_inode: int | None, timeout: float = 60) -> None:
    """Until a run (re)writes its folder's config.toml: data and model are ready, training begins."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for cfg in run_parent.glob("*/config.toml"):
            try:
                if cfg.stat().st_ino != old_inode:
                    return
            except FileNotFoundError:
                pass
        time.sleep(0.01)
    raise AssertionError(f"no run (re)wrote a config.toml in {run_parent} within {timeout} s")


def _wait_for_epoch(run_parent: Path, epoch: int, timeout: float = 120) -> None:
    """Until the run's history.csv (written with each checkpoint) holds `epoch` rows; a run that ends first
    leaves it with them all."""
    end = time.monotonic() + timeout
    while epoch > 0 and time.monotonic() < end:
        for history in run_parent.glob("*/history.csv"):
            with contextlib.suppress(FileNotFoundError):
                if len(history.read_text().splitlines()) - 1 >= epoch:
                    return
        time.sleep(0.005)


FINAL = ("model.safetensors", "metrics.json")  # a run writes these once its last epoch has ended


def test_sigkill_at_random_points_then_resume_is_bit_identical(tmp_path):
    log = open(tmp_path / "stderr.txt", "w")
    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE], env=ENV, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert zygote.stdout.readline() == "ready\n"

        def start(argv: list[str]) -> int:
            zygote.stdin.write(json.dumps(["train", *argv]) + "\n")
            zygote.stdin.flush()
            return int(zygote.stdout.readline())

        def exit_code() -> int:
            return int(zygote.stdout.readline())

        start([*KILL_ARGS, "--out", str(tmp_path / "ref")])  # the uninterrupted run
        assert exit_code() == 0, (tmp_path / "stderr.txt").read_text()
        ref = next((tmp_path / "ref").iterdir())
        # from training's start (config.toml) to its last epoch (history.csv), evaluation and checkpoints included
        seconds = (ref / "history.csv").stat().st_mtime - (ref / "config.toml").stat().st_mtime
        epochs = int(KILL_ARGS[KILL_ARGS.index("--epochs") + 1])
        parent, before = tmp_path / "runs", tmp_path / "before-kill"
        parent.mkdir()
        argv = [*KILL_ARGS, "--out", str(parent)]
        kills, tries = [], []  # the epoch each SIGKILL left in the checkpoint (0: none yet); every try, as text
        while len(kills) < 3 or not any(kills):  # three kills mid-run, one at least after a checkpoint
            assert len(tries) < 12, f"no kill landed mid-run often enough: {tries}"
            run = next(parent.iterdir(), None)
            shutil.rmtree(before, ignore_errors=True)
            if run is not None:  # to undo a try whose run ended before the kill came
                shutil.copytree(run, before)
            ck = load_checkpoint(run) if run is not None else None
            # a random epoch still to come; at a random point inside it (waiting for that epoch's history row,
            # not a share of the reference's time, keeps the kills mid-run on a machine busier than it was then)
            target = random.randint(ck.epoch if ck else 0, epochs - 1)
            delay = random.uniform(0.05, 0.95) * seconds / epochs
            inode = (run / "config.toml").stat().st_ino if run else None
            pid = start(argv)
            _wait_for_start(parent, inode)
            _wait_for_epoch(parent, target)
            time.sleep(delay)
            with contextlib.suppress(ProcessLookupError):  # already ended (and reaped)
                os.kill(pid, signal.SIGKILL)
            code = exit_code()
            assert code in (0, -signal.SIGKILL), (code, (tmp_path / "stderr.txt").read_text())  # ended, or killed
            run = next(parent.iterdir())
            ck = load_checkpoint(run)
            killed_at = ck.epoch if ck else 0
            if code == 0 or killed_at == epochs or any((run / name).exists() for name in FINAL):  # no kill mid-run
                tries.append(f"{delay:.2f} s after epoch {target}: exit {code} at epoch {killed_at}, ended; undone")
                shutil.rmtree(run)
                if before.exists():
                    shutil.copytree(before, run)
                continue
            assert code == -signal.SIGKILL, (code, (tmp_path / "stderr.txt").read_text())
            assert killed_at < epochs and not any((run / name).exists() for name in FINAL)
            kills.append(killed_at)
            tries.append(f"{delay:.2f} s after epoch {target}: SIGKILL at epoch {killed_at}")
            argv = ["--resume", str(run), "--quiet"]
        start(argv)
        assert exit_code() == 0, (tmp_path / "stderr.txt").read_text()
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=60)
        log.close()
    assert sorted(p.name for p in parent.iterdir()) == [run.name]  # one folder, continued in place
    assert not list(run.glob(".*.tmp"))
    info = f"tries: {tries}"
    assert_same_weights(load_file(str(run / "model.safetensors")), load_file(str(ref / "model.safetensors")))
    got = [line.split(",")[:-1] for line in (run / "history.csv").read_text().splitlines()]
    want = [line.split(",")[:-1] for line in (ref / "history.csv").read_text().splitlines()]
    assert got == want, info


def test_resume_refuses_changed_settings_naming_them(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    run = next(out.iterdir())
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--hidden", "16", "--lr", "0.5", "--dataset", "wine"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for word in ("hidden", "lr", "dataset", "epochs", "device"):
        assert word in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing overwritten
    # the same values, and settings that may change, are fine
    assert main(["train", "--resume", str(run), "--hidden", "8", "--epochs", "3", "--quiet"]) == 0
    assert load_checkpoint(run).epoch == 3 and "epochs = 3" in (run / "config.toml").read_text()
    # fewer epochs than already trained
    assert main(["train", "--resume", str(run), "--epochs", "1"]) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err
    with pytest.raises(ValueError, match="batch_size"):
        check_resume(run, load_checkpoint(run).config.replace(batch_size=7))


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def finished_run(tmp_path, *extra: str) -> Path:
    out = tmp_path / "runs"
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--out", str(out), "--quiet",
                 "--device", "cpu", *extra]) == 0
    return next(out.iterdir())


def test_resume_with_a_corrupted_checkpoint_exits_2_and_keeps_the_weights(tmp_path, capsys):
    run = finished_run(tmp_path)
    weights = (run / "model.safetensors").read_bytes()
    raw = bytearray((run / FILE).read_bytes())
    raw[len(raw) // 2] ^= 0x10  # one bit, in the tensor data
    (run / FILE).write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(run / FILE) in err and "corrupt" in err, err
    assert (run / "model.safetensors").read_bytes() == weights


def test_resume_restating_effective_defaults_is_not_a_conflict(tmp_path, capsys):
    run = finished_run(tmp_path)
    assert main(["train", "--resume", str(run), "--val-fraction", "0.2", "--loss", "cross_entropy", "--epochs", "3",
                 "--quiet"]) == 0
    assert main(["train", "--resume", str(run), "--val-fraction", "0.3", "--epochs", "3", "--quiet"]) == 2
    assert "val_fraction: saved 0.2, given 0.3" in capsys.readouterr().err


def test_resume_of_a_run_whose_checkpoint_was_deleted_is_refused(tmp_path, capsys):
    run = finished_run(tmp_path)
    (run / FILE).unlink()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.safetensors is missing" in err and "--config" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("command,kind", [("cv", "cross-validation folder"), ("compare", "compare folder")])
def test_resume_of_a_cv_or_compare_folder_is_refused(tmp_path, capsys, command, kind):
    out = tmp_path / "out"
    extra = ["--folds", "2"] if command == "cv" else []
    assert main([command, "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--quiet", "--out", str(out),
                 *extra]) == 0
    folder = next(out.iterdir())
    before = sorted(p for p in folder.rglob("*"))
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert kind in err and "not a run" in err, err
    assert sorted(p for p in folder.rglob("*")) == before


# ---- never unpickle ----------------------------------------------------------------------------------------

class Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_malicious_pickle_in_place_of_a_checkpoint_is_refused_not_run(tmp_path):
    out = tmp_path / "runs"
    assert main(["train", "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    run = next(out.iterdir())
    marker = tmp_path / "pwned"
    (run / FILE).write_bytes(pickle.dumps(Payload(str(marker))))
    done = subprocess.run([sys.executable, "-m", "mlplab", "train", "--resume", str(run), "--epochs", "2"],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "not a safetensors file" in lines[0] and "never unpickles" in lines[0]
    assert not marker.exists()
    pickle.loads((run / FILE).read_bytes())  # the payload is real: unpickling it does create the marker
    assert marker.exists()


def test_a_malicious_pickle_in_place_of_model_weights_is_refused(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    run = next(out.iterdir())
    marker = tmp_path / "pwned"
    (run / "model.safetensors").write_bytes(pickle.dumps(Payload(str(marker))))
    capsys.readouterr()
    assert main(["summary", str(run)]) == 2
    err = capsys.readouterr().err  # the run's manifest refuses it before it is parsed (mlplab.runs.sealed)
    assert "model.safetensors was changed" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_mlplab_never_unpickles():
    """No pickle loads in the package; torch.load only with weights_only=True."""
    for path in (REPO / "src" / "mlplab").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"\b(pickle|cPickle|dill|joblib)\.loads?\(", text), path
        assert "allow_pickle=True" not in text, path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)


# ---- a loss that turns non-finite --------------------------------------------------------------------------

def test_nan_stops_naming_epoch_and_batch_and_keeps_last_good_checkpoint(tmp_path):
    config = TrainConfig(dataset="diabetes", hidden=(16,), optimizer="sgd", lr=0.5, epochs=8, device="cpu",
                         out=str(tmp_path), checkpoint_every=0)  # a checkpoint after every epoch
    with pytest.raises(NonFiniteLoss) as e:
        train(config=config, write=True, progress="quiet")
    message = str(e.value)
    # epoch 4 ends with finite training losses but weights whose validation loss is inf: they are not kept
    assert "the val loss became inf after epoch 4" in message, message
    assert "learning rate too high" in message and "unscaled inputs" in message
    run = next(tmp_path.iterdir())
    assert f"{run} keeps the last good checkpoint (epoch 3)" in message and "--resume" not in message
    ck = load_checkpoint(run)
    assert ck.epoch == 3 and [r["epoch"] for r in ck.history.rows] == [1, 2, 3]
    assert all(torch.isfinite(v).all() for v in ck.model.values())


def test_nan_in_the_first_epoch_leaves_no_run_folder(tmp_path, capsys):
    assert main(["train", "--dataset", "diabetes", "--optimizer", "sgd", "--lr", "3", "--epochs", "3",
                 "--out", str(tmp_path), "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "epoch 1, batch" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# ---- Ctrl-C ------------------------------------------------------------------------------------------------

def test_ctrl_c_saves_exits_130_and_names_the_resume_command(tmp_path):
    out = tmp_path / "runs"
    argv = [a if a != "5" else "200" for a in KILL_ARGS if a != "--quiet"]  # 200 epochs, a line per epoch
    proc = subprocess.Popen([sys.executable, "-m", "mlplab", "train", *argv, "--out", str(out)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait for two finished epochs
        if line.startswith("epoch") and line.split()[1].startswith("2/"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = next(out.iterdir())
    assert f"mlplab train --resume {run}" in err and "Traceback" not in err
    ck = load_checkpoint(run)
    assert ck.epoch >= 2 and len(ck.history.rows) == ck.epoch


def test_a_table_run_resumed_from_the_cli_continues_bit_identical(tables, tmp_path, capsys, one_torch_thread):
    """A table run (titanic: missing cells, text columns, the leak dropped) stopped after 3 of 6 epochs and
    resumed with ``--resume`` equals the unbroken run: its curves, its weights and its predictions. (A constant
    lr: a cosine schedule spans the epochs a run was started with, so it can only resume to those.)"""
    args = ["train", "--data", str(tables / "titanic.csv"), "--target", "survived", "--drop", "alive",
            "--hidden", "32,32", "--schedule", "none", "--quiet"]
    whole, part = whole_and_resumed(capsys, tmp_path, args, epochs=6, stop_after=3)
    for name in ("model.safetensors", "preprocessing.safetensors"):
        assert_same_weights(load_file(str(part / name)), load_file(str(whole / name)))
    rows = lambda folder: without_time(History.from_csv(folder / "history.csv").rows)  # noqa: E731
    assert rows(part) == rows(whole) and len(rows(part)) == 6
    for folder in (part, whole):  # beside the run folder: only training writes into it
        assert main(["predict", str(folder), "--data", str(tables / "titanic.csv"), "--out",
                     f"{folder}-p.csv", "--proba"]) == 0
    assert Path(f"{part}-p.csv").read_text() == Path(f"{whole}-p.csv").read_text()
