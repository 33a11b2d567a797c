"""Backprop by hand (mlplab.training.backprop) computes what autograd computes: float64 trajectories agree to rounding
for every activation, optimizer, schedule and layout it takes, and for every loss head (cross entropy and BCE with
class weights and label smoothing, mse); dropout through the same masks; anything it does not handle falls back to
autograd (or, asked for by name, fails naming why)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from mlplab.data.load import load_dataset
from mlplab.models.activations import Activation
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.models.mlp import MLP
from mlplab.training.backprop import HandStep, draw_mask, layers_of
from mlplab.training.fit import fit
from mlplab.training.heads import HEADS
from mlplab.training.losses import LOSSES, with_options
from mlplab.training.optim import make_optimizer
from mlplab.training.step import StepContext, choose_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def choice(model, opt, loss="cross_entropy", backprop="auto", impl="torch", world=1, compile=False, amp=None):
    """The step mlplab.training.step.choose_step picks for this model and optimizer on the CPU."""
    ctx = StepContext(model, loss, opt, impl, torch.device("cpu"), world, compile, amp=amp)
    return choose_step(backprop, ctx, forward=model, loss_fn=nn.functional.cross_entropy)


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


def dropout_mask_of_one_step(seed: int, p: float = 0.3, width: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    """The mask one by-hand SGD step applied to a hidden layer of ``width`` units, read back from what the
    step did (not from draw_mask): for one row, W2's update is −lr · δ ⊗ (h · mask), δ = softmax(out) − onehot(y).
    Returns (mask, the step's logits minus the forward pass through that mask)."""
    model = MLP(100, [width], 2, dropout=p, seed=0).double()
    first, last = (m for m in model.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        first.bias.fill_(10.0)                               # every hidden unit on, so h · mask shows the mask
    w1, b1, w2, b2 = (t.detach().clone() for t in (first.weight, first.bias, last.weight, last.bias))
    hand = hand_step(model, make_optimizer("sgd", model, lr=0.1))
    x = torch.randn(1, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(1, dtype=torch.int64)
    torch.manual_seed(seed)
    _, out = hand.step(x, y)
    h = torch.relu(x @ w1.T + b1)                            # (1, width)
    assert (h > 1).all()
    delta = out.softmax(1) - nn.functional.one_hot(y, 2).double()          # (1, 2): ∂ℓ/∂out for one row
    mask = (last.weight.detach() - w2)[0] / (-0.1 * delta[0, 0] * h[0])   # (width,)
    return mask, out - ((h * mask) @ w2.T + b2)


def test_dropout_masks_keep_one_minus_p_scaled():
    """Inverted dropout in the by-hand step: each unit kept with probability 1 − p and then scaled by exactly
    1/(1 − p), zero otherwise; the same mask in the forward and the backward pass; a seed gives one mask."""
    p, width = 0.3, 4000
    mask, residual = dropout_mask_of_one_step(seed=0, p=p, width=width)
    kept = mask > 0.5 / (1 - p)
    snapped = kept.double() / (1 - p)
    torch.testing.assert_close(mask, snapped, rtol=1e-12, atol=1e-12)       # only 0 and 1/(1 − p), nothing else
    assert abs(kept.double().mean().item() - (1 - p)) < 4 * ((1 - p) * p / width) ** 0.5   # 4σ of Binomial(n, 1−p)
    torch.testing.assert_close(residual, torch.zeros_like(residual), rtol=0, atol=1e-9)   # forward used it too
    again, _ = dropout_mask_of_one_step(seed=0, p=p, width=width)
    assert torch.equal(again, mask)                                          # same seed, same mask
    other, _ = dropout_mask_of_one_step(seed=1, p=p, width=width)
    assert ((other > 0.5 / (1 - p)) != kept).double().mean() > 0.2          # another seed: another mask (≈ 2p(1−p))


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
    assert reason(MLP(4, [8], 3, numeric_embedding=2)) is None    # a PeriodicEmbedding first goes by hand
    later = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), PeriodicEmbedding([0], 4, 2, 2), nn.Linear(5, 3))
    assert "PeriodicEmbedding(1 columns" in reason(later) and "a PeriodicEmbedding first" in reason(later)


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
    embedded = MLP(64, [16], 10, numeric_embedding=2)
    assert choice(embedded, make_optimizer("sgd", embedded, lr=0.1), amp="bf16").reason.startswith(
        "amp is on and the model has a PeriodicEmbedding")
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


# --- loss heads: every loss and option by hand is the loss mlplab.training.losses computes -------------------

WEIGHTS = {"cross_entropy": torch.tensor([1.0, 2.5, 0.5, 1.5]), "bce_with_logits": torch.tensor([0.4, 3.0])}
CASES = [  # (loss, class weight?, label smoothing)
    ("cross_entropy", False, 0.0), ("cross_entropy", False, 0.1), ("cross_entropy", True, 0.0),
    ("cross_entropy", True, 0.2), ("bce_with_logits", False, 0.0), ("bce_with_logits", False, 0.1),
    ("bce_with_logits", True, 0.0), ("bce_with_logits", True, 0.1), ("mse", False, 0.0),
]


def case(loss, weighted, smoothing, n=96, seed=0):
    """Inputs (n, 6), targets for ``loss``, its class weight (or None) and the loss autograd trains with."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    score = x[:, :1] - 0.5 * x[:, 1:2] ** 2                                       # (n, 1)
    y = {"cross_entropy": (score.view(-1) + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)).mul(1.5)
         .round().clamp(-1, 2).long() + 1,                                        # (n,) classes 0..3
         "bce_with_logits": (score > 0).double(),                                 # (n, 1), 0/1
         "mse": score + 0.1 * torch.randn(n, 1, generator=g, dtype=torch.float64)}[loss]
    weight = WEIGHTS[loss] if weighted else None
    fn = with_options(loss, weight, smoothing) if weighted or smoothing else LOSSES[loss]
    return x, y, weight, fn


@pytest.mark.parametrize("loss,weighted,smoothing", CASES)
def test_each_loss_head_is_the_loss_and_its_gradient(loss, weighted, smoothing):
    """The head's mean loss and δ_o are the loss autograd trains with and its gradient, to float64 rounding."""
    _, y, weight, fn = case(loss, weighted, smoothing)
    out = torch.randn(len(y), 4 if loss == "cross_entropy" else 1, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(1), requires_grad=True)
    expected = fn(out, y)
    expected.backward()
    options = {**({"weight": weight} if weighted else {}), **({"label_smoothing": smoothing} if smoothing else {})}
    value, delta = HEADS[loss](out.detach(), y, **options)
    torch.testing.assert_close(value, expected.detach(), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(delta, out.grad, rtol=1e-12, atol=1e-15)


def steps_both(loss, weighted, smoothing, optimizer, lr, steps=6, batch=32, embedding=0, **args):
    """(losses, model) of ``steps`` steps by hand and by autograd (choose_step on a StepContext, as fit builds
    it) from the same float64 start; ``embedding`` k > 0 embeds inputs 0, 2 and 3 (1, 4, 5 pass through)."""
    x, y, weight, fn = case(loss, weighted, smoothing)
    runs = {}
    for backprop in ("hand", "autograd"):
        model = MLP(6, [16, 12], 4 if loss == "cross_entropy" else 1, activation="tanh", seed=0,
                    numeric_embedding=embedding, numeric=[0, 2, 3] if embedding else None).double()
        opt = make_optimizer(optimizer, model, lr=lr, **args)
        ctx = StepContext(model, loss, opt, "torch", torch.device("cpu"), 1, False, class_weight=weight,
                          label_smoothing=smoothing)
        chosen = choose_step(backprop, ctx, forward=model, loss_fn=fn)
        assert chosen.path == backprop, chosen.reason
        losses = [chosen.step.step(x[i:i + batch], y[i:i + batch])[0].item()
                  for _ in range(steps // (len(x) // batch)) for i in range(0, len(x), batch)]
        runs[backprop] = (losses, model)
    return runs["hand"], runs["autograd"]


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.2), ("adam", 0.01)])
@pytest.mark.parametrize("loss,weighted,smoothing", CASES)
def test_hand_matches_autograd_for_each_loss_float64(loss, weighted, smoothing, optimizer, lr):
    (hand_losses, hand), (auto_losses, auto) = steps_both(loss, weighted, smoothing, optimizer, lr)
    assert hand_losses == pytest.approx(auto_losses, rel=1e-10, abs=1e-13)
    for (name, p), q in zip(hand.named_parameters(), auto.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12, msg=lambda m, name=name: f"{name}: {m}")
    assert hand_losses[-1] < hand_losses[0]                           # it learned, so agreeing means something


def test_the_hand_embedding_forward_equals_the_modules_exactly():
    from mlplab.models.embeddings import PeriodicEmbedding
    from mlplab.training.backprop_embedding import embed

    emb = PeriodicEmbedding([0, 2, 3], 6, generator=torch.Generator().manual_seed(0))
    x = torch.randn(257, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, (_, _, h) = embed(emb, x)
        assert torch.equal(out, emb(x))
        assert torch.equal(out[:, 3 * 16:], x[:, [1, 4, 5]])                # the others passed through, in order
        assert torch.equal(h.transpose(0, 1).flatten(1), out[:, :3 * 16])  # H is the output's first block


@pytest.mark.parametrize("optimizer,lr,args", [
    ("sgd", 0.2, {}),                                         # folded: each parameter stepped in place
    ("sgd", 0.1, {"momentum": 0.9}),                          # gradients into .grad, torch's step
    ("adam", 0.01, {}),
])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_hand_matches_autograd_through_a_periodic_embedding_float64(loss, optimizer, lr, args):
    """A PeriodicEmbedding first (three columns embedded, three passed through): its frequencies, weights and
    biases follow autograd's to rounding, as the MLP's do."""
    (hand_losses, hand), (auto_losses, auto) = steps_both(loss, False, 0.0, optimizer, lr, steps=9, embedding=4,
                                                          **args)
    assert type(hand[1]) is PeriodicEmbedding
    assert hand_losses == pytest.approx(auto_losses, rel=1e-10, abs=1e-13)
    for (name, p), q in zip(hand.named_parameters(), auto.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12, msg=lambda m, name=name: f"{name}: {m}")
    start = MLP(6, [16, 12], 1, numeric_embedding=4, numeric=[0, 2, 3], seed=0)[1]
    assert not torch.allclose(hand[1].frequencies.float(), start.frequencies)   # the embedding itself learned
    assert hand_losses[-1] < hand_losses[0]
    assert all((p.grad is None) == (optimizer == "sgd" and not args) for p in hand.parameters())


def test_the_step_says_which_loss_and_options_it_trains_with():
    model = MLP(6, [8], 4)
    opt = make_optimizer("adam", model, lr=0.01)
    ctx = StepContext(model, "cross_entropy", opt, "torch", torch.device("cpu"), 1, False,
                      class_weight=WEIGHTS["cross_entropy"], label_smoothing=0.1)
    chosen = choose_step("auto", ctx, forward=model, loss_fn=with_options("cross_entropy", ctx.class_weight, 0.1))
    assert chosen.reason == ("mlplab's MLP with cross entropy (class weights, label smoothing 0.1) on the CPU: "
                             "forward and backward by hand (gradients by hand, then Adam.step())")
    with pytest.raises(ValueError, match="class weights and label smoothing apply to cross_entropy and "
                                         "bce_with_logits; the loss is 'mse'"):
        HandStep([], opt, loss="mse", label_smoothing=0.1)
    with pytest.raises(ValueError, match="loss must be one of cross_entropy, bce_with_logits, mse by hand; got 'nll'"):
        HandStep([], opt, loss="nll")
    regression = MLP(6, [8], 1)
    step = HandStep(layers_of(regression), make_optimizer("sgd", regression, lr=0.1), loss="mse")
    with pytest.raises(ValueError, match=r"mse expects input and target of the same shape.*\(32, 1\) and \(32,\)"):
        step.step(torch.randn(32, 6), torch.randn(32))                # checked as the loss functions check it


def test_table_runs_train_by_hand_with_their_losses(tmp_path):
    """What used to take autograd: the table presets' label smoothing (binary), mse and periodic embeddings
    (regression), class weights."""
    import numpy as np

    import mlplab
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    rng = np.random.default_rng(0)
    n = 400
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    rows = ["a,b,colour,price,bought"] + [
        f"{a[i]:.4f},{b[i]:.4f},{colour[i]},{3 * a[i] - b[i] + (colour[i] == 'red') + rng.normal(0, 0.1):.4f},"
        f"{int(a[i] + 0.5 * b[i] + rng.normal(0, 0.5) > 0.8)}" for i in range(n)]
    (tmp_path / "shop.csv").write_text("\n".join(rows) + "\n")
    keys = {"epochs": 3, "progress": "quiet", "device": "cpu", "seed": 0}
    quiet = {"log": lambda m: None}
    binary = mlplab.train(from_table(tmp_path / "shop.csv", "bought", drop=["price"], **quiet), **keys)
    regression = mlplab.train(from_table(tmp_path / "shop.csv", "price", drop=["bought"], **quiet),
                              numeric_embedding=16, **keys)  # a large regression table's preset has it
    assert type(regression.model[1]) is PeriodicEmbedding
    weighted = mlplab.train(from_table(tmp_path / "shop.csv", "bought", drop=["price"], **quiet),
                            class_weight="balanced", numeric_embedding=0, **keys)  # and a plain MLP
    assert binary.metrics["backprop"] == regression.metrics["backprop"] == weighted.metrics["backprop"] == "hand"
    assert binary.metrics["backprop_reason"].startswith("mlplab's MLP after a PeriodicEmbedding with bce with logits "
                                                          "(label smoothing 0.1) on")  # a small binary table's
    assert regression.metrics["backprop_reason"].startswith("mlplab's MLP after a PeriodicEmbedding with mse on the CPU")
    assert weighted.metrics["backprop_reason"].startswith(
        "mlplab's MLP with bce with logits (class weights, label smoothing 0.1) on the CPU")
    assert regression.history.column("val_loss")[-1] < regression.history.column("val_loss")[0]
    digits = load_dataset("digits")
    multiclass = mlplab.train(digits, hidden=[32], class_weight="balanced", label_smoothing=0.1, **keys)
    assert multiclass.metrics["backprop_reason"].startswith(
        "mlplab's MLP with cross entropy (class weights, label smoothing 0.1) on the CPU")
    assert multiclass.metrics["test_accuracy"] > 0.7                  # it learned (0.86 observed; chance 0.1)


@pytest.mark.parametrize("loss,keys", [
    ("mse", {}),
    ("bce_with_logits", {"label_smoothing": 0.1, "class_weight": "balanced"}),
    ("cross_entropy", {"label_smoothing": 0.1, "class_weight": "balanced"}),
])
def test_fit_by_hand_matches_autograd_with_each_loss_float64(loss, keys):
    """Whole fit runs (Adam, two epochs, every history column) agree, as the activation tests above do for CE."""
    x, y, _, _ = case(loss, False, 0.0, n=300)
    data = mlplab_arrays(x, y if loss != "bce_with_logits" else y.long().view(-1), loss)
    hand, auto = train_both(data, lambda: MLP(6, [16, 12], data.output_size, seed=0), optimizer="adam", lr=0.01,
                            epochs=2, batch_size=64, **keys)
    assert hand[1].backprop == "hand" and auto[1].backprop == "autograd"
    assert_same(hand, auto)


def mlplab_arrays(x, y, loss):
    import mlplab

    task = {"mse": "regression", "bce_with_logits": "binary", "cross_entropy": "multiclass"}[loss]
    d = mlplab.Dataset.from_arrays(x.numpy(), y.numpy(), task=task, test_fraction=0.2)
    return dataclasses.replace(d, **{k: getattr(d, k).double() for k in ("x_train", "x_val", "x_test")}
                               | ({k: getattr(d, k).double() for k in ("y_train", "y_val", "y_test")}
                                  if task != "multiclass" else {}))
