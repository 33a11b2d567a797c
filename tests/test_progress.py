"""Progress: within an epoch a timed line in a pipe (a bar in a terminal), the rate and the time left; the
per-batch hook reaches only the callbacks that ask for it."""

import io
import re

import mlplab
from mlplab.models.mlp import MLP
from mlplab.training.callbacks import Callback
from mlplab.training.fit import fit
from mlplab.training.progress import EpochProgress, Pace, duration


def test_a_pipe_gets_timed_lines_within_an_epoch_with_the_rate_and_time_left():
    data = mlplab.load_dataset("iris")
    out = io.StringIO()
    fit(MLP(4, [8], 3), data, epochs=2, batch_size=2, device="cpu",
        callbacks=[EpochProgress(2, mode="lines", stream=out, every=0.0)])   # every batch, to see them
    lines = out.getvalue().splitlines()
    within = [line for line in lines if "batch" in line]
    assert len(within) == 2 * 45 and re.fullmatch(r"epoch 1/2  batch 1/45  [0-9.]+ batch/s( .* left)?", within[0])
    assert within[-1].startswith("epoch 2/2  batch 45/45") and within[-1].endswith("0s left")
    assert [line.split("  ")[0] for line in lines if "train_loss" in line] == ["epoch 1/2", "epoch 2/2"]
    quiet = io.StringIO()
    fit(MLP(4, [8], 3), data, epochs=2, device="cpu", callbacks=[EpochProgress(2, mode="lines", stream=quiet)])
    assert "batch" not in quiet.getvalue() and len(quiet.getvalue().splitlines()) == 2   # fast: epoch lines only


def test_only_callbacks_that_override_the_batch_hook_are_called_per_batch():
    class Counts(Callback):
        def __init__(self):
            self.seen = []

        def on_batch_end(self, epoch, batch, batches):
            self.seen.append((epoch, batch, batches))

    counts, epoch_only = Counts(), []
    fit(MLP(4, [8], 3), mlplab.load_dataset("iris"), epochs=2, batch_size=32, device="cpu",
        callbacks=[counts, lambda epoch, history, model, opt: epoch_only.append(epoch)])
    assert counts.seen == [(e, b, 3) for e in (1, 2) for b in (1, 2, 3)] and epoch_only == [1, 2]


def test_pace_counts_from_the_epoch_a_resumed_run_starts_at():
    pace = Pace(epochs=10)
    pace.at(epoch=4, batch=1, batches=100)
    pace.at(epoch=5, batch=50, batches=100)
    assert (pace.done, pace.total) == (150, 700)
    assert [duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_a_run_inside_a_longer_job_has_a_heartbeat_and_the_job_its_time_left():
    import time

    from mlplab.training.progress import Heartbeat, overall

    said = []
    fit(MLP(4, [8], 3), mlplab.load_dataset("iris"), epochs=2, batch_size=30, device="cpu",
        callbacks=[Heartbeat("[2/4] lr=0.1 seed 0", said.append, epochs=2, every=0.0)])
    assert said[0].startswith("[2/4] lr=0.1 seed 0: epoch 1/2  batch 1/3") and len(said) == 6
    started = time.perf_counter() - 30
    assert overall(1, 4, started) == " (30s so far, about 1m30s left)" and overall(4, 4, started) == " (30s so far)"
