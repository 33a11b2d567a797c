"""Optimizers from scratch: one explicit loop over parameters, one line per update rule.

Each subclasses ``torch.optim.Optimizer`` (``defaults``, ``param_groups``, ``self.state[p]`` with torch's state
names), so state_dict, checkpoints and resume work as for ``mlplab.training.optim``'s, whose names, hyperparameter names
and defaults these share. g is the gradient, plus weight_decay · p when weight_decay > 0 (L2, coupled, as
torch's); t counts steps from 1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlplab.training import optim as torch_optim
from mlplab.training.optim import hyperparameters, param_groups  # noqa: F401  (the same helpers for both sides)


class ScratchOptimizer(torch.optim.Optimizer):
    """The shared loop: for each parameter with a gradient, ``update(p, g, state, group)`` without autograd."""

    def __init__(self, params, **defaults):
        for key, value in defaults.items():
            if key not in ("nesterov", "amsgrad", "centered", "betas") and value < 0:
                raise ValueError(f"{type(self).__name__} {key} must be >= 0; got {value!r}")
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                state = self.state.get(p)
                if state is None:
                    state = {}
                    self.init_state(p, state, group)
                t = 0
                if "step" in state:  # a float tensor on the CPU, as torch keeps it, so the state_dicts match
                    state["step"] += 1
                    t = int(state["step"])
                self.update(p, g, state, group, t)
                if state:  # like torch's, no entry for a parameter without buffers (SGD without momentum)
                    self.state[p] = state
        return loss

    def init_state(self, p, state, group):
        """The per-parameter buffers, under torch's names; ``step`` counts updates (t)."""
        raise NotImplementedError

    def update(self, p, g, state, group, t):
        """One step of ``p`` (in place) from its gradient ``g`` (weight decay included)."""
        raise NotImplementedError


class SGD(ScratchOptimizer):
    """b ← μ b + (1 − dampening) g (b = g at t = 1); p ← p − lr · (g + μ b if nesterov else b)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov)

    def init_state(self, p, state, group):
        pass  # as torch's SGD: no step count, and the momentum buffer starts as the first g

    def update(self, p, g, state, group, t):
        mu = group["momentum"]
        if mu != 0:
            b = state["momentum_buffer"] = (mu * state["momentum_buffer"] + (1 - group["dampening"]) * g
                                            if "momentum_buffer" in state else g.clone())
            g = g + mu * b if group["nesterov"] else b
        p -= group["lr"] * g


class RMSprop(ScratchOptimizer):
    """v ← α v + (1 − α) g²; centered: m ← α m + (1 − α) g, v̂ = v − m²; d = g / (√v̂ + eps);
    momentum: b ← μ b + d, p ← p − lr · b; else p ← p − lr · d (Hinton's lecture 6e)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def init_state(self, p, state, group):
        state["step"], state["square_avg"] = torch.tensor(0.0), torch.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p)

    def update(self, p, g, state, group, t):
        a = group["alpha"]
        v = state["square_avg"] = a * state["square_avg"] + (1 - a) * g**2
        if group["centered"]:
            m = state["grad_avg"] = a * state["grad_avg"] + (1 - a) * g
            v = v - m**2
        d = g / (torch.sqrt(v) + group["eps"])
        if group["momentum"] > 0:
            d = state["momentum_buffer"] = group["momentum"] * state["momentum_buffer"] + d
        p -= group["lr"] * d


class Adagrad(ScratchOptimizer):
    """s ← s + g²; p ← p − lr / (1 + (t − 1) · lr_decay) · g / (√s + eps) (Duchi et al., 2011)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)

    def init_state(self, p, state, group):
        state["step"], state["sum"] = torch.tensor(0.0), torch.full_like(p, group["initial_accumulator_value"])

    def update(self, p, g, state, group, t):
        s = state["sum"] = state["sum"] + g**2
        p -= group["lr"] / (1 + (t - 1) * group["lr_decay"]) * g / (torch.sqrt(s) + group["eps"])


class Adadelta(ScratchOptimizer):
    """v ← ρ v + (1 − ρ) g²; Δ = √(u + eps) / √(v + eps) · g; u ← ρ u + (1 − ρ) Δ²; p ← p − lr · Δ
    (Zeiler, 2012)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)

    def init_state(self, p, state, group):
        state["step"] = torch.tensor(0.0)
        state["square_avg"], state["acc_delta"] = torch.zeros_like(p), torch.zeros_like(p)

    def update(self, p, g, state, group, t):
        rho, eps = group["rho"], group["eps"]
        v = state["square_avg"] = rho * state["square_avg"] + (1 - rho) * g**2
        delta = torch.sqrt(state["acc_delta"] + eps) / torch.sqrt(v + eps) * g
        state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta**2
        p -= group["lr"] * delta


class Adam(ScratchOptimizer):
    """m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g² (amsgrad: v̂ = max of all v so far);
    p ← p − lr / (1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + eps) (Kingma & Ba, 2015)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def init_state(self, p, state, group):
        state["step"] = torch.tensor(0.0)
        state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p)

    def update(self, p, g, state, group, t):
        b1, b2 = group["betas"]
        m = state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * g
        v = state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * g**2
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = torch.maximum(state["max_exp_avg_sq"], v)
        p -= group["lr"] / (1 - b1**t) * m / (torch.sqrt(v) / math.sqrt(1 - b2**t) + group["eps"])


class Adamax(ScratchOptimizer):
    """m ← β₁ m + (1 − β₁) g; u ← max(β₂ u, |g| + eps); p ← p − lr / (1 − β₁ᵗ) · m / u
    (Adam's ∞-norm variant, Kingma & Ba, 2015)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def init_state(self, p, state, group):
        state["step"] = torch.tensor(0.0)
        state["exp_avg"], state["exp_inf"] = torch.zeros_like(p), torch.zeros_like(p)

    def update(self, p, g, state, group, t):
        b1, b2 = group["betas"]
        m = state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * g
        u = state["exp_inf"] = torch.maximum(b2 * state["exp_inf"], g.abs() + group["eps"])
        p -= group["lr"] / (1 - b1**t) * m / u


OPTIMIZERS = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamax": Adamax,
}


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float = 0.0,
                   registry: dict | None = None, **hyper) -> torch.optim.Optimizer:
    """Build scratch optimizer ``name`` over ``model``'s parameters; ``weight_decay`` reaches weights only."""
    return torch_optim.make_optimizer(name, model, lr, weight_decay, OPTIMIZERS if registry is None else registry,
                                      **hyper)
