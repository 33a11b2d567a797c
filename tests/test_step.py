"""The one place that decides how a run's steps are computed: every rule, the recorded path and reason, the
gaps that used to train wrong models, what a learner finds in .grad after fit on either path, and the memory
layout (channels-last for mlplab's CNN on the CPU)."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import mlplab
from mlplab.data.load import load_dataset
from mlplab.models.cnn import CNN
from mlplab.models.mlp import MLP
from mlplab.scratch.cnn import CNN as ScratchCNN
from mlplab.training.fit import fit
from mlplab.training.losses import LOSSES
from mlplab.training.optim import make_optimizer
from mlplab.training.step import RULES, StepContext, choose_memory_format, why_not_hand


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def ctx(model, **kw):
    opt = make_optimizer("sgd", model, lr=0.1)
    base = dict(model=model, loss="cross_entropy", opt=opt, impl="torch", device=torch.device("cpu"), world=1,
                compile=False)
    return StepContext(**{**base, **kw})


def test_each_rule_names_its_reason():
    m = MLP(4, [8], 3)
    assert why_not_hand(ctx(m)) is None
    assert why_not_hand(ctx(m, impl="scratch")).startswith("impl is scratch")
    assert why_not_hand(ctx(m, device=torch.device("meta"))).startswith("the device is not the CPU")
    assert why_not_hand(ctx(m, world=2)) == "it runs under torch.distributed (DDP)"
    assert why_not_hand(ctx(m, compile=True)) == "compile is on"
    assert why_not_hand(ctx(m, loss="l1")) == (
        "the loss is l1; by hand: cross_entropy, bce_with_logits, mse (cross_entropy and bce_with_logits also with "
        "class weights and label smoothing); l1, smooth_l1, bce, nll take autograd")
    assert why_not_hand(ctx(m, loss="mse")) is None
    assert why_not_hand(ctx(nn.Linear(4, 3))) == "the model is a Linear, not an nn.Sequential MLP"
    assert why_not_hand(ctx(m, penalty=True)) == "a penalty term is added to the loss"
    embedded = MLP(4, [8], 3, numeric_embedding=2)
    assert why_not_hand(ctx(embedded)) is None
    assert why_not_hand(ctx(embedded, amp="bf16")) == (
        "amp is on and the model has a PeriodicEmbedding (by hand embeds in float32/float64 only)")
    assert why_not_hand(ctx(m, amp="bf16")) is None
    held = [why for why, holds in RULES if holds(ctx(m))]
    assert held == []                                             # none holds for the default CPU run


class Doubled(nn.Sequential):
    """A Sequential subclass whose forward is not its layers in order."""

    def forward(self, x):
        return 2 * super().forward(x)


def test_a_sequential_subclass_that_overrides_forward_trains_through_its_own_forward(digits):
    """Before: by hand it was trained through the plain Sequential forward, silently wrong."""
    model = Doubled(*MLP(64, [16], 10, seed=0))
    reference = copy.deepcopy(model)
    history = fit(model, digits, epochs=2, batch_size=64, device="cpu", seed=0)
    assert history.backprop == "autograd" and "Doubled overrides forward" in history.backprop_reason
    fit(reference, digits, epochs=2, batch_size=64, device="cpu", seed=0, backprop="autograd")
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_a_hook_on_the_model_itself_runs_and_moves_the_run_to_autograd(digits):
    """Before: hooks were looked for on the children only, so a hook on the model was skipped by hand."""
    calls = []
    model = MLP(64, [16], 10, seed=0)
    model.register_forward_hook(lambda mod, inp, out: calls.append(out.shape[0]))
    history = fit(model, digits, epochs=1, batch_size=64, device="cpu")
    assert history.backprop == "autograd" and history.backprop_reason == "a hook is registered on the model itself (MLP)"
    assert sum(calls) >= len(digits.x_train)                   # every training batch went through the hook


def test_the_path_and_reason_reach_metrics_json(cli, tmp_path):
    r = cli("train", "--dataset", "iris", "--epochs", "1", "--out", str(tmp_path), "--verbose",
            env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "backprop: hand (mlplab's MLP with cross entropy on the CPU" in r.stdout
    folder = r.stdout.strip().splitlines()[-1].split("run folder: ")[1]
    metrics = json.loads(Path(folder, "metrics.json").read_text())
    assert metrics["backprop"] == "hand" and "by hand" in metrics["backprop_reason"]
    r = cli("train", "--dataset", "iris", "--epochs", "1", "--out", str(tmp_path), "--impl", "scratch",
            env={"OMP_NUM_THREADS": "1"})
    folder = r.stdout.strip().splitlines()[-1].split("run folder: ")[1]
    metrics = json.loads(Path(folder, "metrics.json").read_text())
    assert metrics["backprop"] == "autograd" and metrics["backprop_reason"].startswith("impl is scratch")


def training_batches(data, seed: int, **kw) -> list[torch.Tensor]:
    """The row indices of each training batch a run takes, in order, seen by a forward hook on the model (the
    hook moves the run to autograd; which rows make each batch is the run's, not the path's)."""
    seen = []
    model = MLP(64, [16], 10, seed=0).double()
    model.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].clone()) if mod.training else None)
    fit(model, data, device="cpu", seed=seed, **kw)
    row = {tuple(x.tolist()): i for i, x in enumerate(data.encoded("train").double())}  # what the model takes
    assert len(row) == len(data.x_train)                          # every row tells which index it is
    return [torch.tensor([row[tuple(x.tolist())] for x in batch]) for batch in seen]


@pytest.mark.parametrize("optimizer, args", [("sgd", {}), ("adam", {})])
def test_grad_after_fit_is_the_last_batch_gradient_at_the_final_weights_on_both_paths(digits, optimizer, args):
    """A learner inspecting .grad after training finds the same thing whichever path trained the model."""
    data = copy.copy(digits)
    data.x_train = digits.x_train[:250].double()               # 250 rows, batch 64: the last batch has 58
    data.y_train = digits.y_train[:250]
    data.x_val = data.x_val.double()
    data.x_test = data.x_test.double()
    kw = dict(optimizer=optimizer, lr=0.05, epochs=2, batch_size=64)
    batches = training_batches(data, seed=0, **kw)
    assert [len(b) for b in batches] == [64, 64, 64, 58] * 2
    epochs = [torch.cat(batches[:4]), torch.cat(batches[4:])]
    assert all(torch.equal(e.sort().values, torch.arange(250)) for e in epochs)  # each epoch: every row once
    assert not torch.equal(epochs[0], epochs[1])                    # reshuffled each epoch
    assert all(torch.equal(a, b) for a, b in zip(batches, training_batches(data, seed=0, **kw)))  # same seed
    assert not torch.equal(epochs[1], torch.cat(training_batches(data, seed=1, **kw)[4:]))      # another seed
    last = batches[-1]
    grads = {}
    for backprop in ("hand", "autograd"):
        model = MLP(64, [16], 10, seed=0).double()
        fit(model, data, **kw, device="cpu", seed=0, backprop=backprop)
        grads[backprop] = [p.grad.clone() for p in model.parameters()]
        # the reference, by autograd: the run's last batch (epoch 2's 58 rows), eval mode, final weights
        ref = copy.deepcopy(model).eval()
        ref.zero_grad()
        LOSSES["cross_entropy"](ref(data.encoded("train").double()[last]), data.y_train[last]).backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads["hand"], grads["autograd"]):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


SPEC = "conv:8:3:pad1,bn,relu,maxpool:2,fc:16,relu"


def test_each_memory_format_rule_names_its_reason():
    cpu, cnn = torch.device("cpu"), CNN((12, 12), 4, spec=SPEC)
    assert choose_memory_format(cnn, cpu)[0] == "channels_last"
    assert choose_memory_format(CNN((12, 12), 4, spec="lenet"), cpu)[0] == "channels_last"
    assert choose_memory_format(MLP(4, [8], 3), cpu) == (
        "contiguous", "the model is a mlplab.models.mlp.MLP, not mlplab.models.cnn.CNN (the one model measured in "
                      "channels-last)")
    assert choose_memory_format(ScratchCNN((12, 12), 4, spec=SPEC), cpu)[1].startswith(
        "the model is a mlplab.scratch.cnn.CNN, not")
    assert choose_memory_format(cnn, torch.device("meta"))[1].startswith("the device is not the CPU")
    assert choose_memory_format(cnn, cpu, world=2)[1].startswith("it runs under torch.distributed")
    assert choose_memory_format(cnn, cpu, compile=True)[1].startswith("compile is on")


@pytest.fixture(scope="module")
def quadrants():
    """(1, 12, 12) images whose class is the bright quadrant."""
    rng = np.random.default_rng(0)
    y = np.arange(256) % 4
    x = rng.normal(0, 0.5, size=(256, 1, 12, 12)).astype(np.float32)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, 0, r * 6:(r + 1) * 6, col * 6:(col + 1) * 6] += 1.0
    return mlplab.Dataset.from_arrays(x, y, standardize=False)


def test_a_cnn_trains_in_channels_last_as_it_would_in_torchs_default_layout(quadrants):
    """The same layers as a plain nn.Sequential (not mlplab's CNN: contiguous) take the same steps."""
    cnn = CNN((1, 12, 12), 4, spec=SPEC, seed=0)
    plain = nn.Sequential(*copy.deepcopy(list(cnn)))
    # SGD: Adam would scale the conv bias's gradient (zero but for rounding, as batch norm follows) up to full
    # steps, and rounding differs between layouts
    kw = dict(optimizer="sgd", lr=0.1, epochs=2, batch_size=32, device="cpu", seed=0)
    h, h_plain = fit(cnn, quadrants, **kw), fit(plain, quadrants, **kw)
    assert (h.memory_format, h_plain.memory_format) == ("channels_last", "contiguous")
    assert cnn[0].weight.is_contiguous(memory_format=torch.channels_last) and plain[0].weight.is_contiguous()
    for (k, p), q in zip(cnn.state_dict().items(), plain.state_dict().values()):  # rounding apart: the same
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=k)
    assert h.rows[-1]["val_accuracy"] == h_plain.rows[-1]["val_accuracy"] > 0.9


def test_a_cnn_run_folder_records_channels_last_and_predicts_after_loading_as_it_did(quadrants, tmp_path, capsys):
    run = mlplab.train(quadrants, model="cnn", spec=SPEC, epochs=1, batch_size=32, progress="quiet", device="cpu",
                       out=str(tmp_path), verbose=True)
    assert "memory format: channels_last (mlplab's CNN on the CPU" in capsys.readouterr().out
    assert run.metrics["memory_format"] == "channels_last" and "CNN on the CPU" in run.metrics["memory_format_reason"]
    back = mlplab.load_run(run.path)
    assert back.history.memory_format == "channels_last"
    assert back.model[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = quadrants.x_val.numpy()
    assert np.array_equal(back.predict_proba(x), run.predict_proba(x))   # bit for bit
    plain = CNN((1, 12, 12), 4, spec=SPEC)                                 # the saved weights: the standard layout
    plain.load_state_dict(back.model.state_dict())
    with torch.no_grad():
        p = plain.eval()(quadrants.x_val).softmax(1).numpy()
    np.testing.assert_allclose(p, run.predict_proba(x), rtol=1e-5, atol=1e-6)
