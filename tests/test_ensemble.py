"""mlplab.models.ensemble (TabM-mini) and its scratch twin: equal in float64 (values and gradients, train and eval,
several k, with and without an embedding), the mean of the members by hand, k identical members as the plain MLP,
TabM's start, the training loss as the mean of the members' losses (with class weights and label smoothing),
gradient clipping, the build checks, and real runs that train, save, load and predict the same."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.testing import assert_close

import mlplab
from mlplab.config import TrainConfig
from mlplab.data.load import load_dataset
from mlplab.models import ensemble as torch_ensemble
from mlplab.models.build import build_model
from mlplab.models.mlp import MLP
from mlplab.scratch import ensemble as scratch_ensemble
from mlplab.training.fit import fit
from mlplab.training.losses import LOSSES, with_options
from mlplab.training.optim import make_optimizer
from mlplab.training.step import AutogradStep, StepContext, choose_step, why_not_hand

IMPLS = {"torch": torch_ensemble, "scratch": scratch_ensemble}
OUTPUT_SIZE = {"multiclass": 4, "binary": 1, "regression": 2}


def make(impl: str, task: str = "multiclass", k: int = 4, embedding: int = 0, **kw):
    return IMPLS[impl].EnsembleMLP(6, kw.pop("hidden", [10, 7]), OUTPUT_SIZE[task], k=k, task=task,
                                   numeric_embedding=embedding, seed=3, **kw).double()


def as_scratch(state: dict) -> dict:
    """A torch EnsembleMLP's state_dict for the scratch twin: the shared Linears' ``weight`` (out, in) becomes
    ``W`` (in, out), ``bias`` ``b``; the embedding, the scaling and the heads load as they are."""
    out = {}
    for name, value in state.items():
        if name.startswith("backbone.") and name.endswith(".weight"):
            out[name.removesuffix("weight") + "W"] = value.T
        elif name.startswith("backbone.") and name.endswith(".bias"):
            out[name.removesuffix("bias") + "b"] = value
        else:
            out[name] = value
    return out


# ---- the scratch twin equals torch ---------------------------------------------------------------------------

def test_same_public_names_and_signatures_on_both_sides():
    import inspect

    for name in ("EnsembleMLP", "MemberScaling", "MemberHeads", "mean_of_members"):
        assert inspect.signature(getattr(scratch_ensemble, name)) == inspect.signature(getattr(torch_ensemble, name))
    t, s = make("torch"), make("scratch")
    assert set(s.state_dict()) == set(as_scratch(t.state_dict()))
    for part in ("scaling", "heads"):      # the ensemble's own layers: one state_dict, both sides
        assert {n: v.shape for n, v in getattr(s, part).state_dict().items()} == {
            n: v.shape for n, v in getattr(t, part).state_dict().items()}


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
@pytest.mark.parametrize("k, embedding, hidden", [(2, 0, [10, 7]), (5, 0, [8]), (8, 3, [10, 7]), (3, 2, [])])
def test_scratch_equals_torch_in_float64_values_and_gradients_train_and_eval(task, k, embedding, hidden):
    t = make("torch", task, k, embedding, hidden=hidden)
    with torch.no_grad():                   # move every weight off its start, biases too
        for p in t.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(p.numel())))
    s = make("scratch", task, k, embedding, hidden=hidden)
    s.load_state_dict(as_scratch(t.state_dict()))
    x = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for mode in ("train", "eval"):
        t.train(mode == "train"), s.train(mode == "train")
        yt, ys = t(x), s(x)
        assert yt.shape == ((7, k, OUTPUT_SIZE[task]) if mode == "train" else (7, OUTPUT_SIZE[task]))
        assert_close(ys, yt, atol=1e-12, rtol=1e-12)
        upstream = torch.randn(yt.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        gt = torch.autograd.grad(yt, list(t.parameters()), upstream)
        gs = dict(zip([n for n, _ in s.named_parameters()], torch.autograd.grad(ys, list(s.parameters()), upstream)))
        expected = as_scratch(dict(zip([n for n, _ in t.named_parameters()], gt)))
        assert set(gs) == set(expected)
        for name, grad in expected.items():
            assert_close(gs[name], grad, atol=1e-12, rtol=1e-12, msg=f"{mode}: {name}")


@pytest.mark.parametrize("embedding", [0, 4])
def test_the_same_seed_starts_both_impls_from_the_same_numbers(embedding):
    t, s = make("torch", embedding=embedding), make("scratch", embedding=embedding)
    for name, value in as_scratch(t.state_dict()).items():
        assert torch.equal(s.state_dict()[name], value), name


def test_dropout_draws_the_same_masks_on_both_sides():
    t, s = make("torch", dropout=0.3), make("scratch", dropout=0.3)
    x = torch.randn(9, 6, dtype=torch.float64)
    torch.manual_seed(5)
    yt = t(x)
    torch.manual_seed(5)
    assert_close(s(x), yt, atol=1e-12, rtol=1e-12)
    t.eval(), s.eval()
    assert_close(s(x), t(x), atol=1e-12, rtol=1e-12)


# ---- what the ensemble predicts --------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_eval_output_is_the_mean_of_the_members_computed_by_hand(impl, task):
    m = make(impl, task, k=6)
    x = torch.randn(11, 6, dtype=torch.float64)
    members = m.members(x)                                       # (B, k, C)
    out = m.eval()(x)
    each = [members[:, i] for i in range(6)]
    if task == "multiclass":
        assert_close(torch.softmax(out, dim=1), sum(torch.softmax(y, dim=1) for y in each) / 6)
    elif task == "binary":
        assert_close(torch.sigmoid(out), sum(torch.sigmoid(y) for y in each) / 6)
    else:
        assert_close(out, sum(each) / 6)


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_the_mean_stays_finite_when_every_member_is_certain(impl):
    out = torch.tensor([[[300.0, -300.0, 0.0], [250.0, -400.0, 0.0]]])          # (1, 2, 3), float32
    probs = IMPLS[impl].mean_of_members(out, "multiclass")
    assert torch.isfinite(probs).all() and probs[0, 1] < -500
    logit = IMPLS[impl].mean_of_members(out[..., :1] * torch.tensor([[[1.0], [-1.0]]]), "binary")
    assert torch.isfinite(logit).all() and abs(logit.item()) < 1e-3               # p̄ = ½: one sure yes, one sure no


@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
@pytest.mark.parametrize("embedding", [0, 3])
def test_k_identical_members_are_the_plain_mlp_of_the_same_seed(impl, task, embedding):
    m = make(impl, task, k=5, embedding=embedding)
    plain = {"torch": MLP, "scratch": __import__("mlplab.scratch.mlp", fromlist=["MLP"]).MLP}[impl](
        6, [10, 7], OUTPUT_SIZE[task], seed=3, numeric_embedding=embedding).double()
    with torch.no_grad():                       # the shared layers and head 0 already are the plain MLP's numbers
        m.scaling.weight.fill_(1.0)
        m.heads.weight.copy_(m.heads.weight[0].expand_as(m.heads.weight))
        c = OUTPUT_SIZE[task]
        m.heads.bias.copy_(m.heads.bias[:c].repeat(5))
    x = torch.randn(8, 6, dtype=torch.float64)
    y = plain(x)
    assert_close(m(x), y[:, None].expand(-1, 5, -1))
    out = m.eval()(x)
    if task == "multiclass":
        assert_close(out, torch.log_softmax(y, dim=1))                # log of the mean of k equal softmaxes
    else:
        assert_close(out, y)                                          # the logit of p itself; the value itself


def test_the_scaling_starts_as_tabm_mini_random_signs_or_normal_per_embedded_column():
    m = torch_ensemble.EnsembleMLP(200, [8], 3, k=16, seed=0)
    r = m.scaling.weight
    assert r.shape == (16, 200) and set(r.unique().tolist()) == {-1.0, 1.0}
    assert abs(r.mean().item()) < 0.05                                           # each sign with probability ½
    e = torch_ensemble.EnsembleMLP(5, [8], 3, k=16, seed=0, numeric_embedding=4, numeric=[0, 2])
    d = e.embed[1].weight.shape[2]                                               # 16 features per embedded column
    r = e.scaling.weight
    assert r.shape == (16, 2 * d + 3)
    for start, width in ((0, d), (d, d), (2 * d, 1), (2 * d + 1, 1), (2 * d + 2, 1)):  # one N(0, 1) draw each
        assert torch.equal(r[:, start:start + width], r[:, start:start + 1].expand(-1, width))
    assert len(r[:, ::d].unique()) > 30                                          # not signs: normal draws
    again = torch_ensemble.EnsembleMLP(5, [8], 3, k=16, seed=0, numeric_embedding=4, numeric=[0, 2])
    assert all(torch.equal(p, q) for p, q in zip(e.parameters(), again.parameters()))  # seeded


def test_heads_start_as_k_linear_layers_with_their_bias_kept_out_of_weight_decay():
    m = torch_ensemble.EnsembleMLP(6, [32], 3, k=4, seed=0)
    plain = MLP(6, [32], 3, seed=0)
    assert torch.equal(m.heads.weight[0], plain.linears()[-1].weight.T)          # head 0: the MLP's output layer
    assert m.heads.weight.abs().max() <= 1 / 32 ** 0.5 and not torch.equal(m.heads.weight[0], m.heads.weight[1])
    groups = make_optimizer("adam", m, lr=1e-3, weight_decay=0.1).param_groups
    assert any(p is m.heads.bias for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0.0


# ---- training: the mean of the members' losses -----------------------------------------------------------------

def member_losses_mean(loss_fn, members, y):
    return sum(loss_fn(members[:, i], y) for i in range(members.shape[1])) / members.shape[1]


@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("task, options", [
    ("multiclass", {}), ("multiclass", {"class_weight": torch.tensor([1.0, 3.0, 0.5, 2.0]), "label_smoothing": 0.1}),
    ("binary", {}), ("binary", {"class_weight": torch.tensor([1.0, 4.0]), "label_smoothing": 0.2}),
    ("regression", {})])
def test_a_step_trains_on_the_mean_of_member_losses_and_returns_their_mean_prediction(impl, task, options):
    m = make(impl, task, k=5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 6, dtype=torch.float64, generator=g)
    y = {"multiclass": torch.randint(0, 4, (12,), generator=g),
         "binary": torch.randint(0, 2, (12, 1), generator=g).double(),
         "regression": torch.randn(12, 2, dtype=torch.float64, generator=g)}[task]
    name = {"multiclass": "cross_entropy", "binary": "bce_with_logits", "regression": "mse"}[task]
    loss_fn = with_options(name, **options) if options else LOSSES[name]
    ref = copy.deepcopy(m)
    expected = member_losses_mean(loss_fn, ref.members(x), y)       # each member's own loss, then their mean
    expected.backward()
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    loss, out = AutogradStep(m, loss_fn, opt, model=m).step(x, y)
    assert_close(loss, expected.detach())
    assert_close(out, ref.eval()(x).detach())                      # what the loop counts accuracy from
    for (n, p), (_, q) in zip(m.named_parameters(), ref.named_parameters()):
        assert_close(before[n] - p.detach(), q.grad, msg=n)         # the step followed the mean loss's gradient


def test_fit_records_the_mean_of_member_losses_as_the_training_loss():
    data = load_dataset("iris", seed=0)
    config = TrainConfig(ensemble=6, hidden=(16,), optimizer="sgd", lr=0.1, epochs=1,
                         batch_size=len(data.y_train), class_weight="balanced")
    model = build_model(config, data.input_shape, data.task, data.output_size)
    start = copy.deepcopy(model)
    history = fit(model, data, config, device="cpu")
    counts = torch.bincount(data.y_train, minlength=3).double()
    weight = (len(data.y_train) / (3 * counts)).float()
    x = data.encoded("train")                                       # the inputs as the model takes them
    expected = member_losses_mean(with_options("cross_entropy", weight), start.members(x), data.y_train)
    assert history.rows[0]["train_loss"] == pytest.approx(expected.item(), rel=1e-6)   # one batch: before its step
    assert history.backprop == "autograd" and "TabM-style ensemble" in history.backprop_reason


# ---- the step's rules and gradient clipping --------------------------------------------------------------------

def context(model, **kw):
    base = dict(model=model, loss="cross_entropy", opt=make_optimizer("sgd", model, lr=0.1), impl="torch",
                device=torch.device("cpu"), world=1, compile=False)
    return StepContext(**{**base, **kw})


def test_an_ensemble_and_grad_clip_take_autograd_with_their_reason():
    m = torch_ensemble.EnsembleMLP(4, [8], 3, k=4)
    assert why_not_hand(context(m)) == ("the model is a TabM-style ensemble (EnsembleMLP): its members' mean loss "
                                        "trains under autograd")
    with pytest.raises(ValueError, match="backprop 'hand' does not apply here: the model is a TabM-style ensemble"):
        choose_step("hand", context(m), forward=m, loss_fn=LOSSES["cross_entropy"])
    plain = MLP(4, [8], 3)
    assert why_not_hand(context(plain)) is None
    assert why_not_hand(context(plain, grad_clip=1.0)) == (
        "grad_clip is on (the gradients' global norm is clipped under autograd)")
    choice = choose_step("auto", context(plain, grad_clip=1.0), forward=plain, loss_fn=LOSSES["cross_entropy"])
    assert choice.path == "autograd" and choice.step.grad_clip == 1.0


@pytest.mark.parametrize("clip", [0.0, 0.05, 1e6])
def test_grad_clip_bounds_the_global_norm_of_the_step(clip):
    m = MLP(4, [8], 3, seed=0).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    ref = copy.deepcopy(m)
    LOSSES["cross_entropy"](ref(x), y).backward()
    norm = torch.cat([p.grad.flatten() for p in ref.parameters()]).norm()
    assert norm > 0.05
    before = [p.detach().clone() for p in m.parameters()]
    AutogradStep(m, LOSSES["cross_entropy"], torch.optim.SGD(m.parameters(), lr=1.0), grad_clip=clip).step(x, y)
    moved = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, m.parameters())])
    scale = min(1.0, clip / (norm.item() + 1e-6)) if clip else 1.0     # clip_grad_norm_'s own 1e-6
    assert_close(moved, scale * torch.cat([p.grad.flatten() for p in ref.parameters()]), rtol=1e-6, atol=1e-12)


# ---- build: both impls, the embedding, and every refusal -------------------------------------------------------

@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("embedding", [0, 8])
def test_build_model_makes_the_ensemble_for_both_impls(impl, embedding):
    config = TrainConfig(ensemble=4, hidden=(16,), impl=impl, numeric_embedding=embedding)
    m = build_model(config, (5,), "binary", 1, numeric=[0, 3])
    assert type(m) is IMPLS[impl].EnsembleMLP and m.k == 4 and m.task == "binary"
    assert (m.embed[1].positions.tolist() == [0, 3]) if embedding else len(m.embed) == 1
    assert m.eval()(torch.randn(3, 5)).shape == (3, 1)
    assert type(build_model(config.replace(ensemble=0), (5,), "binary", 1)).__name__ == "MLP"


@pytest.mark.parametrize("keys, task, match", [
    (dict(model="cnn"), "multiclass", "ensemble trains k members sharing one MLP .*model 'cnn' is not an MLP; "
                                      "use --model mlp or leave ensemble at 0"),
    (dict(loss="nll"), "multiclass", "loss 'nll' needs a log_softmax output layer; use cross_entropy"),
    (dict(loss="bce"), "binary", "loss 'bce' needs a sigmoid output layer; use bce_with_logits"),
])
def test_build_refuses_what_an_ensemble_cannot_be_in_one_line(keys, task, match):
    config = TrainConfig(ensemble=4, **keys)
    with pytest.raises(ValueError, match=match) as e:
        build_model(config, (1, 28, 28) if keys.get("model") == "cnn" else (4,), task, 1 if task == "binary" else 3)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kw, match", [
    (dict(k=1), "an ensemble needs k >= 2 members, e.g. --ensemble 8 .*got 1"),
    (dict(k=True), "an ensemble needs k >= 2 members"),
    (dict(task="ranking"), "task must be one of multiclass, binary, regression .*got 'ranking'"),
    (dict(task="binary"), "output_size must be 1, got 3"),
])
@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_bad_ensemble_arguments_are_refused(impl, kw, match):
    with pytest.raises(ValueError, match=match):
        IMPLS[impl].EnsembleMLP(4, [8], 3, **kw)


def test_scaling_chunks_must_cover_the_width():
    for side in IMPLS.values():
        with pytest.raises(ValueError, match=r"chunks must add up to the width 5; got \[2, 2\] \(sum 4\)"):
            side.MemberScaling(3, 5, chunks=[2, 2])
        with pytest.raises(ValueError, match="scaling init must be random-signs, normal or ones; got 'uniform'"):
            side.MemberScaling(3, 5, init="uniform")


# ---- real data: train, save, load, predict the same -------------------------------------------------------------

@pytest.mark.parametrize("name, impl, floor", [("breast-cancer", "torch", 0.93), ("digits", "torch", 0.9),
                                               ("wine", "scratch", 0.9)])
def test_a_real_run_trains_saves_loads_and_predicts_the_same(name, impl, floor, tmp_path, one_torch_thread):
    run = mlplab.train(name, ensemble=8, hidden=[64], optimizer="adam", lr=3e-3, epochs=15, impl=impl,
                       progress="quiet", out=str(tmp_path))
    assert run.history.rows[-1]["test_accuracy"] >= floor
    assert isinstance(run.model, IMPLS[impl].EnsembleMLP) and run.history.backprop == "autograd"
    loaded = mlplab.load_run(run.path)
    assert isinstance(loaded.model, IMPLS[impl].EnsembleMLP) and loaded.config.ensemble == 8
    data = load_dataset(name, seed=0)
    x = data.x_test.numpy()
    np.testing.assert_array_equal(loaded.predict_proba(x), run.predict_proba(x))
    np.testing.assert_array_equal(loaded.predict(x), run.predict(x))
    assert np.allclose(run.predict_proba(x).sum(1), 1.0)


def test_a_regression_run_predicts_the_members_mean_in_target_units(one_torch_thread):
    run = mlplab.train("diabetes", ensemble=4, hidden=[32], optimizer="adam", lr=3e-3, epochs=20,
                       progress="quiet", write=False)
    data = load_dataset("diabetes", seed=0)
    model, x = run.model.eval(), data.encoded("test")
    with torch.no_grad():
        assert_close(model(x), model.members(x).mean(dim=1))
    pred = run.predict(data.x_test.numpy())
    assert pred.shape == (len(data.x_test),) and np.corrcoef(pred, data.y_test.numpy().ravel())[0, 1] > 0.5
