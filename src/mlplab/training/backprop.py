"""Backpropagation by hand for mlplab's MLP, and the fast path ``fit`` takes on the CPU.

For an MLP  A₀ = X,  Zₖ = Aₖ₋₁ Wₖᵀ + bₖ,  Hₖ = φ(Zₖ),  Aₖ = Hₖ ⊙ Mₖ  (Mₖ the dropout mask, already scaled
by 1/(1 − p)),  O = A_L W_oᵀ + b_o  and a mean loss ℓ(O, y), the chain rule gives, from the top down (δ is
∂ℓ/∂Z of a layer, one row per sample):

    δ_o = ∂ℓ/∂O                                  (the loss head: mlplab.training.heads)
    ∂ℓ/∂W = δᵀ A_in      ∂ℓ/∂b = Σ_rows δ       (A_in: the layer's input)
    δₖ = (δₖ₊₁ Wₖ₊₁) ⊙ Mₖ ⊙ φ'(Zₖ)              (φ' from the output: relu: Hₖ > 0, tanh: 1 − Hₖ², sigmoid: Hₖ(1 − Hₖ))

That is what autograd computes too (tests: float64 runs agree to 1e-10, single steps to 1e-12). Written out,
a step needs no graph, no saved-tensor bookkeeping and no per-node dispatch; and for plain SGD the update
folds into the gradient's matrix product, W ← W − lr · δᵀA_in, one GEMM (and b ← b − lr · δᵀ1, one GEMV),
with no gradient tensor, zero_grad or optimizer step at all. Other optimizers get their gradients written
into ``p.grad`` and take their own ``step()``; Adam its fused kernel, without ``step()``'s wrappers
(mlplab.training.fused_adam). With ``amp`` (bfloat16) the products and activations run in bfloat16 as under
``torch.autocast``: a bfloat16 copy of each weight per step, the loss head in float32,
gradients and updates applied to the float32 weights.

A ``PeriodicEmbedding`` (mlplab.models.embeddings) may come first, before the first Linear: its forward and
gradients by hand are in mlplab.training.backprop_embedding. With ``amp`` an embedding takes autograd
(mlplab.training.step.RULES).

Dropout masks are drawn as ``uniform_() >= p`` from torch's global generator: the same Bernoulli(1 − p)
distribution as ``nn.Dropout``, which draws them with ``bernoulli_`` (3× slower on the CPU), so the masks,
and hence runs with dropout, differ from the autograd path's; runs without dropout match it to rounding.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mlplab.models.activations import ACTIVATIONS, Activation
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.training import fused_adam
from mlplab.training.backprop_embedding import embed, embedding_gradients
from mlplab.training.heads import HEADS
from mlplab.training.losses import WEIGHTABLE, check_inputs

# Activations whose derivative is a function of their output: (in-place forward, backward(δ, output) -> δ').
FORWARD = {"relu": Tensor.relu_, "tanh": Tensor.tanh_, "sigmoid": Tensor.sigmoid_, "identity": lambda z: z}
BACKWARD = {
    "relu": lambda d, h: torch.ops.aten.threshold_backward(d, h, 0.0),   # d where h > 0, else 0
    "tanh": lambda d, h: torch.ops.aten.tanh_backward(d, h),             # d · (1 − h²)
    "sigmoid": lambda d, h: torch.ops.aten.sigmoid_backward(d, h),       # d · h · (1 − h)
    "identity": lambda d, h: d,
}


def draw_mask(h: Tensor, p: float) -> tuple[Tensor, float | None]:
    """An inverted-dropout mask shaped like ``h`` that keeps with probability 1 − p, and the scale to apply
    after it: in float32/64 the mask holds 1/(1 − p) itself; for bfloat16, which would round 1/(1 − p), it is
    a bool mask (drawn in float32, cheaper than in bfloat16) and the scale comes back as a number.

    ``uniform_() >= p`` keeps with probability 1 − p (to 2⁻²⁴, uniform_'s float32 resolution), as
    ``bernoulli_(1 − p)`` does, at a third of its cost on the CPU (one 32-bit draw per element, not a double).
    """
    if h.dtype in (torch.float32, torch.float64):
        return torch.empty_like(h).uniform_().ge_(p).div_(1 - p), None
    return torch.empty(h.shape, device=h.device).uniform_() >= p, 1 / (1 - p)


@dataclass
class Layer:
    linear: nn.Linear
    activation: str | None = None      # None on the output layer
    dropout: nn.Dropout | None = None  # its p and its training flag (model.train()/eval()) are read each step
    embedding: PeriodicEmbedding | None = None  # before the Linear: the first layer's only

    def parameters(self) -> list[Tensor]:
        return [*(self.embedding.parameters() if self.embedding is not None else ()), *self.linear.parameters()]


def layers_of(model: nn.Module) -> list[Layer] | str:
    """``model``'s modules as a list of Layers (Flatten, [PeriodicEmbedding,] then Linear [→ Activation]
    [→ Dropout] … → Linear), or a reason why they cannot be trained by hand (another module, an embedding not
    first, an output activation, a frozen parameter, ...).
    Whether the model as a whole qualifies (its class, hooks, device) is decided by mlplab.training.step.RULES."""
    mods = list(model)
    if mods and type(mods[0]) is nn.Flatten and (mods[0].start_dim, mods[0].end_dim) == (1, -1):
        mods = mods[1:]
    embedding = None
    if mods and type(mods[0]) is PeriodicEmbedding:
        embedding, mods = mods[0], mods[1:]
    layers: list[Layer] = []
    for m in mods:
        if type(m) is nn.Linear:
            layers.append(Layer(m))
        elif type(m) is Activation and m.name in FORWARD and m.fn is ACTIVATIONS[m.name] and layers \
                and layers[-1].activation is None and layers[-1].dropout is None:
            layers[-1].activation = m.name
        elif type(m) is nn.Dropout and layers and layers[-1].dropout is None and not m.inplace and m.p < 1:
            layers[-1].dropout = m
        else:
            return (f"its module {m} is not one backprop by hand knows (Linear, {', '.join(FORWARD)}, Dropout; "
                    "a PeriodicEmbedding first)")
    if not layers:
        return "it has no Linear layer"
    layers[0].embedding = embedding
    if layers[-1].activation is not None or layers[-1].dropout is not None:
        return "its last layer is not a plain Linear (the loss by hand takes the last Linear's raw output)"
    params = list(model.parameters())
    if any(not p.requires_grad or p.dtype not in (torch.float32, torch.float64) or p.layout != torch.strided
           or p._backward_hooks or getattr(p, "_post_accumulate_grad_hooks", None) for p in params):
        return "a parameter is frozen, not float32/float64, or has a gradient hook"
    if len({(p.dtype, p.device) for p in params}) > 1:
        return "its parameters differ in dtype or device"
    return layers


def plain_sgd(opt: torch.optim.Optimizer) -> bool:
    """SGD that is exactly p ← p − lr · ∂ℓ/∂p (no momentum, weight decay or hooks): foldable into the GEMM."""
    from torch.optim import optimizer as optimizer_globals
    hooks = (opt._optimizer_step_pre_hooks, opt._optimizer_step_post_hooks,
             optimizer_globals._global_optimizer_pre_hooks, optimizer_globals._global_optimizer_post_hooks)
    return (type(opt) is torch.optim.SGD and not any(hooks) and all(
        g["momentum"] == 0 and g["weight_decay"] == 0 and not g["maximize"] and not g.get("differentiable")
        for g in opt.param_groups))


class HandStep:
    """One training step of an MLP by hand: forward, the loss head's δ_o, backward, update.

    ``loss`` names the head (``HEADS``); ``class_weight`` (C,) and ``label_smoothing`` are those of
    mlplab.training.losses.with_options (cross_entropy and bce_with_logits only). ``step(x, y)`` returns the
    batch's mean loss (0-dim) and the outputs ``(B, C)``, both detached. mlplab.training.step.choose_step
    builds it when every rule for it holds.
    """

    def __init__(self, layers: list[Layer], opt: torch.optim.Optimizer, amp: torch.dtype | None = None, *,
                 loss: str = "cross_entropy", class_weight: Tensor | None = None, label_smoothing: float = 0.0):
        if loss not in HEADS:
            raise ValueError(f"loss must be one of {', '.join(HEADS)} by hand; got {loss!r}: train with autograd")
        options = {**({"weight": class_weight} if class_weight is not None else {}),
                   **({"label_smoothing": label_smoothing} if label_smoothing else {})}
        if options and loss not in WEIGHTABLE:
            raise ValueError(f"class weights and label smoothing apply to {' and '.join(WEIGHTABLE)}; the loss is "
                             f"{loss!r}")
        self.layers, self.opt, self.amp, self.loss = layers, opt, amp, loss
        self.head = functools.partial(HEADS[loss], **options)
        self.checked = False                                     # check_inputs on the first batch, as losses do
        self._constants: dict[tuple, Tensor] = {}
        self.fold = plain_sgd(opt)
        self.fused_adam = fused_adam.direct(opt)                 # Adam's kernel without opt.step()'s wrappers
        # which param group's lr applies to p, by index: load_state_dict replaces the group dicts
        self.group = {p: i for i, g in enumerate(opt.param_groups) for p in g["params"]}

    @staticmethod
    def check_optimizer(layers: list[Layer], opt: torch.optim.Optimizer) -> str | None:
        """Why ``opt`` cannot drive these layers by hand (it misses a parameter), or None."""
        held = {p for g in opt.param_groups for p in g["params"]}
        if any(p not in held for layer in layers for p in layer.parameters()):
            return "the optimizer does not hold every parameter of the model"
        return None

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor, share: float = 1.0) -> tuple[Tensor, Tensor]:
        """One update on batch ``(x, y)``; returns its mean loss (0-dim) and the logits (B, C), detached.
        ``share`` is for the DDP step's signature: by hand runs in one process only."""
        low = self.amp
        a = x.reshape(len(x), -1)                                # (B, D)
        if low is not None:
            a = a.to(low)
        embedding = self.layers[0].embedding
        if embedding is not None:
            a, embedded = embed(embedding, a)                    # (B, F·d + rest), (u, e, h)
        saved = []                             # per layer: (input, activation output, mask, scale, weight used)
        for layer in self.layers:
            w, b = layer.linear.weight, layer.linear.bias        # (out, in), (out,)
            if low is not None:
                w, b = w.to(low), (b.to(low) if b is not None else None)
            z = torch.addmm(b, a, w.t()) if b is not None else torch.mm(a, w.t())   # (B, out)
            h = FORWARD[layer.activation](z) if layer.activation else z
            mask = scale = None
            drop = layer.dropout
            if drop is not None and drop.training and drop.p > 0:
                mask, scale = draw_mask(h, drop.p)
            saved.append((a, h, mask, scale, w))
            if mask is not None:
                a = h * mask
                if scale is not None:
                    a.mul_(scale)
            else:
                a = h
        out = a                                                  # (B, C) logits
        if not self.checked:                                     # a misuse says what the loss expects
            check_inputs(self.loss, out, y)
            self.checked = True
        loss, delta = self.head(out if low is None else out.float(), y)   # mean loss, δ_o = ∂ℓ/∂O (B, C)
        if not math.isfinite(loss.item()):                       # leave the weights as they were: the caller
            return loss, out                                     # stops on it, as autograd's loop does
        if low is not None:
            delta = delta.to(low)
        for k in range(len(self.layers) - 1, -1, -1):
            layer, (a_in, h, mask, scale, w) = self.layers[k], saved[k]
            if mask is not None:                                 # δ arrived as ∂ℓ/∂A: through the mask,
                delta.mul_(mask)
                if scale is not None:
                    delta.mul_(scale)
            if layer.activation is not None:                     # then through φ, to ∂ℓ/∂Z
                delta = BACKWARD[layer.activation](delta, h)
            if k > 0:
                below = torch.mm(delta, w)                       # ∂ℓ/∂A_in, with W before its update
            elif embedding is not None:                          # ∂ℓ/∂H of the embedded columns only (B, F·d)
                below = torch.mm(delta, w[:, :embedding.bias.numel()])
            else:
                below = None
            self._update(layer.linear.weight, delta, a_in, layer.linear.bias)
            delta = below
        if embedding is not None:                                # its gradients, applied as the Linears' are
            grads = embedding_gradients(embedding, delta, *embedded)
            if self.fold:
                for p, g in grads.items():
                    p.sub_(g, alpha=self._lr(p))
            else:
                for p, g in grads.items():
                    p.grad = g
        if self.fused_adam:
            fused_adam.step(self.opt)
        elif not self.fold:
            self.opt.step()
        return loss, out

    @staticmethod
    def _grads(*params: Tensor | None) -> None:
        """A ``.grad`` of the right shape on each parameter, to write into."""
        for p in params:
            if p is not None and (p.grad is None or p.grad.shape != p.shape):
                p.grad = torch.empty_like(p)

    def _lr(self, p: Tensor) -> float:
        return float(self.opt.param_groups[self.group[p]]["lr"])

    def _constant(self, value: float, n: int, like: Tensor) -> Tensor:
        """A cached (n, 1) column of ``value`` in ``like``'s dtype and device."""
        key = (value, n, like.dtype, like.device)
        if key not in self._constants:
            self._constants[key] = torch.full((n, 1), value, dtype=like.dtype, device=like.device)
        return self._constants[key]

    def _update(self, w: Tensor, delta: Tensor, a_in: Tensor, b: Tensor | None) -> None:
        """∂ℓ/∂W = δᵀ A_in, ∂ℓ/∂b = Σ δ: applied at once for plain SGD, else written into ``.grad``."""
        if self.fold:
            lr = self._lr(w)
            if delta.dtype == w.dtype:
                w.addmm_(delta.t(), a_in, alpha=-lr)             # the update inside the GEMM
            else:
                w.sub_(torch.mm(delta.t(), a_in), alpha=lr)
            if b is not None:
                blr = self._lr(b)
                if delta.dtype == b.dtype:                       # b − lr · δᵀ1: the sum over rows as a GEMV
                    b.addmv_(delta.t(), self._constant(1.0, len(delta), delta)[:, 0], alpha=-blr)
                else:
                    b.sub_(torch.sum(delta, 0, dtype=b.dtype), alpha=blr)
            return
        self._grads(w, b)
        if delta.dtype == w.dtype:
            torch.mm(delta.t(), a_in, out=w.grad)
        else:
            w.grad.copy_(torch.mm(delta.t(), a_in))
        if b is not None:
            torch.sum(delta, 0, dtype=b.dtype, out=b.grad)
