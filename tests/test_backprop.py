"""Backprop by hand (mlplab.training.backprop) computes what autograd computes: float64 trajectories agree to rounding
for every activation, optimizer, schedule and layout it takes; dropout through the same masks; anything it
does not handle falls back to autograd (or, asked for by name, fails naming why)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from mlplab.data.load import load_dataset
from mlplab.models.activations import Activation
from mlplab.models.mlp import MLP
from mlplab.training.backprop import HandStep, draw_mask
from mlplab.training.fit import fit
from mlplab.training.optim import make_optimizer
from mlplab.training.step import StepContext, choose_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def choice(model, opt, loss="cross_entropy", backprop="auto", impl="torch", world=1, compile=False, amp=None):
    """The step mlplab.training.step.choose_step picks for this model and optimizer on the CPU."""
    ctx = StepContext(model, loss, opt, impl, torch.device("cpu"), world, compile)
    return choose_step(backprop, ctx, forward=model, loss_fn=nn.functional.cross_entropy, amp=amp)


def hand_step(model, opt, amp=None) -> HandStep:
    chosen = choice(model, opt, amp=amp)
    assert chosen.path == "hand", chosen.reason
    return chosen.step



@pytest.fixture(scope="module")
def digits64():
    d = load_dataset("digits")
    return dataclasses.replace(d, **{k: getattr(d, k).double() for k in ("x_train", "x_val", "x_test")})


def train_both(data, make_model, **kw):
    """(model, history) trained by hand and by autograd from the same start."""
    out = {}
    for backprop in ("hand", "autograd"):
        model = make_model().double()
        out[backprop] = (model, fit(model, data, device="cpu", backprop=backprop, **kw))
    return out["hand"], out["autograd"]


def assert_same(hand, auto, rtol=1e-10):
    (mh, hh), (ma, ha) = hand, auto
    for (name, p), q in zip(mh.named_parameters(), ma.parameters()):
        torch.testing.assert_close(p, q, rtol=rtol, atol=1e-12, msg=lambda m: f"{name}: {m}")
    for rh, ra in zip(hh.rows, ha.rows):
        for key in rh:
            if key != "seconds":
                assert rh[key] == pytest.approx(ra[key], rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("optimizer,args,wd", [
    ("sgd", {}, 0.0),                                         # folded into the GEMM: W ← W − lr δᵀA
    ("sgd", {"momentum": 0.9, "nesterov": True}, 0.01),       # gradients into .grad, torch's step
    ("adam", {}, 0.001),
    ("rmsprop", {}, 0.0),
])
def test_hand_matches_autograd_float64(digits64, activation, optimizer, args, wd):
    lr = 0.005 if optimizer in ("adam", "rmsprop") else 0.3
    hand, auto = train_both(digits64, lambda: MLP(64, [32, 16], 10, activation=activation, seed=3),
                            optimizer=optimizer, optimizer_args=dict(args), weight_decay=wd, lr=lr, epochs=3,
                            batch_size=100, seed=1)
    assert_same(hand, auto)
    losses = hand[1].column("train_loss")
    assert losses[-1] < losses[0] - 0.01  # it learned, so agreeing means something


@pytest.mark.parametrize("hidden,bias", [([], True), ([24], False), ([40, 30, 20], True)])
@pytest.mark.parametrize("schedule", ["none", "onecycle"])
def test_hand_matches_autograd_layouts_and_schedules(digits64, hidden, bias, schedule):
    hand, auto = train_both(digits64, lambda: MLP(64, hidden, 10, bias=bias, activation="relu", seed=0),
                            optimizer="sgd", lr=0.1, epochs=2, batch_size=64, schedule=schedule)
    assert_same(hand, auto)


def test_hand_matches_autograd_on_image_batches_with_augmentation():
    d = load_dataset("digits")
    images = dataclasses.replace(d, **{k: getattr(d, k).double().reshape(-1, 8, 8)
                                       for k in ("x_train", "x_val", "x_test")}, input_shape=(8, 8))
    hand, auto = train_both(images, lambda: MLP(64, [32], 10, seed=0), optimizer="adam", lr=0.01, epochs=2,
                            batch_size=50, augment="flip")
    assert_same(hand, auto)


class UniformDropout(nn.Module):
    """Dropout drawing its mask as the hand step does (uniform ≥ p), to check the backward through masks."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        mask, scale = draw_mask(x.detach(), self.p)
        return x * mask if scale is None else x * mask * scale


def test_dropout_backward_through_the_same_masks(digits64):
    x, y = digits64.x_train[:128], digits64.y_train[:128]
    model = MLP(64, [48, 32], 10, dropout=[0.5, 0.2], activation="tanh", seed=0).double()
    reference = copy.deepcopy(model)
    for i, m in enumerate(reference):
        if isinstance(m, nn.Dropout):
            reference[i] = UniformDropout(m.p)
    opt = make_optimizer("sgd", model, lr=0.1)
    ref_opt = make_optimizer("sgd", reference, lr=0.1)
    hand = hand_step(model, opt)
    for _ in range(3):
        torch.manual_seed(7)
        loss, out = hand.step(x, y)
        torch.manual_seed(7)
        ref_out = reference(x)
        ref_loss = nn.functional.cross_entropy(ref_out, y)
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        torch.testing.assert_close(out, ref_out.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(loss, ref_loss.detach(), rtol=1e-12, atol=1e-12)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_dropout_masks_keep_one_minus_p_scaled():
    """The step's own logits are the forward pass through the mask draw_mask gives for the same seed."""
    model = MLP(100, [1000], 2, dropout=0.3, seed=0).double()
    w1, b1, w2, b2 = (p.detach().clone() for p in model.parameters())
    hand = hand_step(model, make_optimizer("sgd", model, lr=0.1))
    x = torch.randn(200, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    loss, out = hand.step(x, torch.zeros(200, dtype=torch.int64))
    torch.manual_seed(0)
    mask, _ = draw_mask(torch.empty(200, 1000, dtype=torch.float64), 0.3)
    expected = (torch.relu(x @ w1.T + b1) * mask) @ w2.T + b2                  # (200, 2), weights before the step
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(expected, torch.zeros(200, dtype=torch.int64)))
    kept = (mask > 0).double().mean().item()
    assert abs(kept - 0.7) < 4 * (0.7 * 0.3 / mask.numel()) ** 0.5
    assert set(mask.unique().tolist()) == {0.0, 1 / 0.7}


def test_eval_mode_draws_no_mask(digits64):
    model = MLP(64, [32], 10, dropout=0.5, seed=0).double().eval()
    reference = copy.deepcopy(model)
    hand = hand_step(model, make_optimizer("sgd", model, lr=0.1))
    x, y = digits64.x_train[:64], digits64.y_train[:64]
    _, out = hand.step(x, y)
    torch.testing.assert_close(out, reference(x).detach(), rtol=1e-12, atol=1e-12)


def test_plain_sgd_folds_the_update_into_the_gemm(digits64):
    x, y = digits64.x_train[:64].double(), digits64.y_train[:64]
    model = MLP(64, [32], 10).double()
    before = [p.detach().clone() for p in model.parameters()]
    step = hand_step(model, make_optimizer("sgd", model, lr=0.1))
    assert step.fold
    step.step(x, y)
    assert all(p.grad is None for p in model.parameters())    # no gradient tensors, no optimizer step
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # yet every tensor moved
    momentum = MLP(64, [32], 10).double()
    step = hand_step(momentum, make_optimizer("sgd", momentum, lr=0.1, momentum=0.9))
    assert not step.fold
    step.step(x, y)
    assert all(p.grad is not None for p in momentum.parameters())


def reason(model, loss="cross_entropy", **kw):
    chosen = choice(model, make_optimizer("sgd", model, lr=0.1), loss=loss)
    return None if chosen.path == "hand" else chosen.reason


def test_what_it_does_not_handle_says_why():
    assert "nll" in reason(MLP(4, [8], 3, output="log_softmax"), loss="nll")
    assert reason(MLP(4, [8], 3)) is None                      # the plain MLP is trained by hand
    assert "LogSoftmax" in reason(MLP(4, [8], 3, output="log_softmax"))
    assert "gelu" in reason(MLP(4, [8], 3, activation="gelu"))
    own = MLP(4, [8], 3)
    own[2] = Activation("relu", registry={"relu": lambda x: x.clamp(min=0.5)})  # not torch's relu: autograd
    assert "Activation(relu)" in reason(own)
    hooked = MLP(4, [8], 3)
    hooked[1].register_forward_hook(lambda *a: None)
    assert "hook" in reason(hooked)
    frozen = MLP(4, [8], 3)
    frozen[1].bias.requires_grad_(False)
    assert "frozen" in reason(frozen)
    from mlplab.scratch.mlp import MLP as ScratchMLP
    assert "is not one backprop by hand knows" in reason(ScratchMLP(4, [8], 3))  # its own Flatten, Linear


def test_auto_falls_back_and_hand_insists(digits64):
    calls = []
    model = MLP(64, [16], 10).double()
    model[1].register_forward_hook(lambda *a: calls.append(1))
    fit(model, digits64, epochs=1, device="cpu")                # auto: the hook still runs, via autograd
    assert calls
    with pytest.raises(ValueError, match="backprop 'hand' does not apply here: a hook is registered"):
        fit(model, digits64, epochs=1, device="cpu", backprop="hand")
    with pytest.raises(ValueError, match="impl is scratch"):
        from mlplab.scratch.mlp import MLP as ScratchMLP
        fit(ScratchMLP(64, [16], 10).double(), digits64, epochs=1, device="cpu", impl="scratch", backprop="hand")
    with pytest.raises(ValueError, match="unknown backprop 'fast'; valid backprops: auto, autograd, hand"):
        fit(MLP(64, [16], 10), digits64, epochs=1, device="cpu", backprop="fast")


def test_auto_chooses_hand_on_the_default_cpu_path():
    model = MLP(64, [16], 10)
    opt = make_optimizer("sgd", model, lr=0.1)
    assert isinstance(choice(model, opt).step, HandStep)
    assert choice(model, opt, backprop="autograd").path == "autograd"
    assert choice(model, opt, amp="bf16").step.amp is torch.bfloat16
    assert choice(model, opt, compile=True).reason == "compile is on"
    assert choice(model, opt, world=2).reason == "it runs under torch.distributed (DDP)"


def test_bf16_by_hand_tracks_autograd_under_autocast():
    """amp="bf16": the GEMMs in bfloat16 by hand as under torch.autocast; not bit-equal (rounding happens in
    other places), so the curves agree to bf16's precision and both learn as float32 does."""
    d = load_dataset("digits")
    runs = {}
    for name, backprop, amp in (("hand", "hand", "bf16"), ("autograd", "autograd", "bf16"), ("fp32", "hand", None)):
        model = MLP(64, [64, 32], 10, seed=0)
        runs[name] = fit(model, d, optimizer="adam", lr=0.005, epochs=6, batch_size=64, device="cpu", amp=amp,
                         backprop=backprop, seed=0)
        assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32
    for key in ("train_loss", "val_loss", "test_loss"):
        # observed within 1.1 % of each other on digits (bf16 rounds at other places than autocast does)
        assert runs["hand"].column(key) == pytest.approx(runs["autograd"].column(key), rel=0.025), key
        assert runs["hand"].column(key) == pytest.approx(runs["fp32"].column(key), rel=0.025), key
    assert runs["hand"].final["test_accuracy"] > 0.9
    assert abs(runs["hand"].final["test_accuracy"] - runs["autograd"].final["test_accuracy"]) < 0.03


def test_bf16_dropout_scale_is_not_rounded():
    """bfloat16 would round 1/(1 − 0.3) to 1.4297: the mask stays 0/1 and the exact scale is applied after."""
    h = torch.ones(64, 512, dtype=torch.bfloat16)
    mask, scale = draw_mask(h, 0.3)
    assert scale == pytest.approx(1 / 0.7, rel=1e-15) and mask.dtype == torch.bool and 0.6 < mask.float().mean() < 0.8
    mask32, scale32 = draw_mask(h.float(), 0.3)
    assert scale32 is None and set(mask32.unique().tolist()) == {0.0, float(torch.tensor(1 / 0.7))}


def test_the_budget_config_trains_by_hand_in_bf16(fashion_dir):
    """configs/fashion-best.toml as a user runs it (one epoch, so the one-cycle schedule runs in full)."""
    from pathlib import Path

    from mlplab.config import load_config
    from mlplab.models.build import build_model

    config = load_config(Path(__file__).parents[1] / "configs" / "fashion-best.toml").replace(epochs=1)
    assert (config.amp, config.backprop, config.dropout) == ("bf16", "auto", (0.3,))
    data = load_dataset("fashion-mnist", data_dir=fashion_dir)
    model = build_model(config, data.input_shape, data.task, data.output_size)
    opt = make_optimizer(config.optimizer, model, lr=config.lr)
    hand = choice(model, opt, amp=config.amp).step
    assert isinstance(hand, HandStep) and hand.amp is torch.bfloat16
    history = fit(model, data, optimizer=config.optimizer, lr=config.lr, epochs=1, batch_size=config.batch_size,
                  device="cpu", schedule=config.schedule, augment=config.augment, amp=config.amp)
    assert history.final["test_accuracy"] > 0.82


def test_the_update_reads_the_lr_of_the_optimizer_as_it_is_now(digits64):
    """Schedules change group lrs in place and load_state_dict replaces the group dicts: both reach the step."""
    model = MLP(64, [16], 10).double()
    opt = make_optimizer("sgd", model, lr=0.1)
    hand = hand_step(model, opt)
    state = opt.state_dict()
    for group in state["param_groups"]:
        group["lr"] = 0.0
    opt.load_state_dict(state)
    before = [p.detach().clone() for p in model.parameters()]
    hand.step(digits64.x_train[:64], digits64.y_train[:64])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    opt.param_groups[0]["lr"] = 0.1                                   # weights move, biases (lr 0) do not
    hand.step(digits64.x_train[:64], digits64.y_train[:64])
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert moved == [p.ndim == 2 for p in model.parameters()]


@pytest.mark.parametrize("backprop", ["hand", "autograd"])
def test_a_non_finite_loss_stops_before_the_weights_change(backprop):
    """The batch whose loss is inf/NaN updates nothing, by hand as with autograd: the weights stay finite."""
    from mlplab.training.fit import NonFiniteLoss

    model = MLP(64, [32], 10, seed=0)
    seen = []
    with pytest.raises(NonFiniteLoss, match=r"epoch 1, batch \d+ of"):
        fit(model, load_dataset("digits"), optimizer="sgd", lr=1e30, epochs=2, batch_size=64, device="cpu",
            backprop=backprop, callbacks=[lambda *a: seen.append(1)])
    assert not seen                                                    # it stopped inside the first epoch
    assert all(torch.isfinite(p).all() for p in model.parameters())
