"""Scratch optimizers against torch's: parameter trajectories over 60 steps on a small MLP, float64, 1e-6 relative.

One helper trains the same tiny net twice, one optimizer each, and compares every parameter after every step
(tinygrad's ``_test_optim``); then one line per hyperparameter setting.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from mlplab.models.mlp import MLP
from mlplab.scratch import optim as scratch
from mlplab.scratch.losses import l2_penalty
from mlplab.training import optim as torch_optim

X = torch.randn(32, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(1))


def tiny_net() -> torch.nn.Module:
    return MLP(5, [8, 6], 3, activation=["tanh", "relu"], init="default", seed=0).double()


def _test_optim(ours: str, theirs: str, steps: int, opts: dict, weight_decay: float = 0.0, lr: float = 0.05,
                atol: float = 1e-12, rtol: float = 1e-6):
    """Train copies of one net with scratch ``ours`` and torch ``theirs``; parameters must agree after each step."""
    nets = [tiny_net(), tiny_net()]
    opts_ = [scratch.make_optimizer(ours, nets[0], lr, weight_decay, **opts),
             torch_optim.make_optimizer(theirs, nets[1], lr, weight_decay, **opts)]
    trajectories = [[], []]  # per net: (steps, all parameters flattened)
    for step in range(steps):
        i = torch.arange(8 * step, 8 * step + 8) % len(X)  # a different minibatch every step
        for net, opt, trajectory in zip(nets, opts_, trajectories):
            opt.zero_grad()
            F.cross_entropy(net(X[i]), Y[i]).backward()
            opt.step()
            trajectory.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    a, b = torch.stack(trajectories[0]), torch.stack(trajectories[1])  # (steps, P)
    first_bad = lambda: int((~torch.isclose(a, b, rtol=rtol, atol=atol)).any(1).nonzero()[0]) + 1  # noqa: E731
    assert_close(a, b, atol=atol, rtol=rtol, msg=lambda m: f"{ours} {opts}: from step {first_bad()}: {m}")
    assert not torch.allclose(a[-1], torch.cat([p.flatten() for p in tiny_net().parameters()]))  # it did move
    return opts_


STEPS = 60
CASES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "dampening": 0.5}),
    ("sgd", {"momentum": 0.9, "nesterov": True}), ("sgd", {"momentum": 0.5, "weight_decay": 0.01}),
    ("rmsprop", {}), ("rmsprop", {"alpha": 0.9, "eps": 1e-6}), ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}), ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("adagrad", {}), ("adagrad", {"lr_decay": 0.01}), ("adagrad", {"eps": 1e-6, "initial_accumulator_value": 0.1}),
    ("adadelta", {}), ("adadelta", {"rho": 0.5, "eps": 1e-4}), ("adadelta", {"weight_decay": 0.01}),
    ("adam", {}), ("adam", {"betas": (0.8, 0.99)}), ("adam", {"eps": 1e-4, "weight_decay": 0.01}),
    ("adam", {"amsgrad": True}), ("adam", {"amsgrad": True, "betas": (0.5, 0.9)}),
    ("adamax", {}), ("adamax", {"betas": (0.5, 0.9)}), ("adamax", {"eps": 1e-3, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("name,opts", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_trajectory_matches_torch(name, opts):
    wd = opts.pop("weight_decay", 0.0) if "weight_decay" in opts else 0.0
    opts = dict(opts)
    _test_optim(name, name, STEPS, opts, weight_decay=wd, lr=1.0 if name == "adadelta" else 0.05)


@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_optimizer_weight_decay_on_weights_only(lr):
    _test_optim("sgd", "sgd", STEPS, {"momentum": 0.9}, weight_decay=0.05, lr=lr)
    opt = scratch.make_optimizer("sgd", tiny_net(), lr=lr, weight_decay=0.05)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert all(p.ndim == 1 for p in opt.param_groups[1]["params"])


@pytest.mark.parametrize("name,opts", [("sgd", {}), ("sgd", {"momentum": 0.9}), ("adam", {})])
def test_loss_penalty_route_equals_optimizer_route(name, opts):
    """λ‖W‖²/2 added to the loss gives the same trajectory as the optimizer's weight_decay = λ (weights only)."""
    lam = 0.1
    a, b = tiny_net(), tiny_net()
    opt_a = scratch.make_optimizer(name, a, 0.05, weight_decay=lam, **opts)
    opt_b = scratch.make_optimizer(name, b, 0.05, weight_decay=0.0, **opts)
    for step in range(STEPS):
        i = torch.arange(8 * step, 8 * step + 8) % len(X)
        for net, opt, penalty in ((a, opt_a, 0.0), (b, opt_b, lam)):
            opt.zero_grad()
            (F.cross_entropy(net(X[i]), Y[i]) + l2_penalty(net, penalty)).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert_close(p, q, rtol=1e-6, atol=1e-12)
    assert not torch.allclose(next(a.parameters()), next(tiny_net().parameters()), atol=1e-3)


def test_both_registries_list_the_same_optimizers_and_hyperparameters_and_defaults():
    assert list(scratch.OPTIMIZERS) == list(torch_optim.OPTIMIZERS)
    for name, cls in scratch.OPTIMIZERS.items():
        theirs = torch_optim.OPTIMIZERS[name]
        assert isinstance(cls([torch.zeros(1, requires_grad=True)], lr=0.1), torch.optim.Optimizer)
        ours_defaults = cls([torch.zeros(1, requires_grad=True)]).defaults
        their_defaults = theirs([torch.zeros(1, requires_grad=True)]).defaults
        for key, value in ours_defaults.items():
            assert their_defaults[key] == value, (name, key)
        assert set(torch_optim.hyperparameters(cls)) <= set(torch_optim.hyperparameters(theirs))


@pytest.mark.parametrize("name,opts", [("sgd", {}), ("sgd", {"momentum": 0.9}), ("rmsprop", {"centered": True}),
                                       ("adagrad", {}), ("adadelta", {}), ("adam", {"amsgrad": True}),
                                       ("adamax", {})])
def test_state_dicts_carry_torchs_names_and_resume_exactly(name, opts):
    ours, theirs = _test_optim(name, name, 5, opts, lr=0.5 if name == "adadelta" else 0.05)
    ours_state, their_state = ours.state_dict(), theirs.state_dict()
    assert ours_state["state"].keys() == their_state["state"].keys()
    for i, s in ours_state["state"].items():
        assert s.keys() == their_state["state"][i].keys(), name
    # resume: a fresh scratch optimizer loaded from the state continues exactly like the original
    net = tiny_net()
    twin = copy.deepcopy(net)
    a = scratch.make_optimizer(name, net, 0.05, **opts)
    for step in range(3):
        a.zero_grad()
        F.cross_entropy(net(X), Y).backward()
        a.step()
    twin.load_state_dict(net.state_dict())
    b = scratch.make_optimizer(name, twin, 0.05, **opts)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for model, opt in ((net, a), (twin, b)):
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_bad_hyperparameters_are_errors():
    with pytest.raises(ValueError, match="takes no betas"):
        scratch.make_optimizer("sgd", tiny_net(), lr=0.1, betas=(0.9, 0.9))
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        scratch.make_optimizer("sgd", tiny_net(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="RMSprop momentum must be >= 0"):
        scratch.make_optimizer("rmsprop", tiny_net(), lr=0.1, momentum=-1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        scratch.make_optimizer("lbfgs", tiny_net(), lr=0.1)
