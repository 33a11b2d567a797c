"""One training step per batch, and the one place that decides how it is computed.

A run trains through exactly one step object, chosen once by ``choose_step``:

- ``HandStep`` (mlplab.training.backprop): forward, gradient and update written out, no autograd graph.
  The fast path on the CPU, for mlplab's MLP (with or without a PeriodicEmbedding first) with cross entropy,
  bce_with_logits (each with optional class weights and label smoothing) or mse.
- ``AutogradStep``: zero_grad, forward, loss, backward, [clip the gradients' norm,] ``opt.step()`` — the
  textbook step, for everything else: any model or loss, scratch modules, a GPU, ``torch.compile`` and
  DistributedDataParallel (each only changes the ``forward`` it calls), and a TabM-style ensemble
  (mlplab.models.ensemble), whose k members' outputs (B, k, C) train on the mean of their k losses.

``RULES`` lists every condition under which backprop by hand does not apply, in order; the first that holds
is the reason a run takes autograd, and the chosen path and its reason go into the run's metrics.json
(``backprop``, ``backprop_reason``).

``choose_memory_format`` decides, the same way, how the model's 4-d weights lie in memory: channels-last (NHWC)
for mlplab's CNN on the CPU, where an epoch measured 0.65-0.85× a contiguous one (benchmarks/bench_nets.py),
torch's contiguous (NCHW) default otherwise; recorded as ``memory_format`` and ``memory_format_reason``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mlplab.models.cnn import CNN
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.models.ensemble import Ensemble
from mlplab.training import backprop as hand_backprop
from mlplab.training.heads import LOSSES as HAND_LOSSES
from mlplab.training.losses import LOSSES

AMP = {"bf16": torch.bfloat16}  # autocast dtypes by name; bf16 needs no loss scaling
BACKPROPS = ("auto", "hand", "autograd")  # auto: by hand where it applies, else autograd


@dataclass
class StepContext:
    """What the choice depends on: ``loss`` is the loss's name (mlplab.training.losses), trained with
    ``class_weight`` (C,) and ``label_smoothing`` where given (mlplab.training.losses.with_options)."""

    model: nn.Module
    loss: str
    opt: torch.optim.Optimizer
    impl: str
    device: torch.device
    world: int
    compile: bool
    penalty: bool = False
    class_weight: Tensor | None = None
    label_smoothing: float = 0.0
    amp: str | None = None     # mixed precision by name (``AMP``), or None
    grad_clip: float = 0.0     # clip the gradients' global norm to this before each step; 0: off

    @property
    def loss_text(self) -> str:
        """The loss and its options, for the record: ``cross_entropy (class weights, label smoothing 0.1)``."""
        options = (["class weights"] if self.class_weight is not None else []) + (
            [f"label smoothing {self.label_smoothing:g}"] if self.label_smoothing else [])
        return f"{self.loss} ({', '.join(options)})" if options else self.loss


def _global_hooks() -> bool:
    from torch.nn.modules import module as module_globals

    return any((module_globals._global_forward_hooks, module_globals._global_forward_pre_hooks,
                module_globals._global_backward_hooks))


def _hooked(model: nn.Module) -> str | None:
    """The first module (the model itself included) with a hook; by hand no hook would run."""
    for name, m in model.named_modules():
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return f"module {name}" if name else f"the model itself ({type(m).__name__})"
    return None


def _own_forward(model: nn.Module) -> bool:
    """A Sequential subclass that overrides forward computes something other than its layers in order."""
    return isinstance(model, nn.Sequential) and type(model).forward is not nn.Sequential.forward


# Every reason backprop by hand does not apply: (why, does it hold for this run?). The first that holds wins;
# its text may name {loss}, {model} (the model's class) and {hooked} (the first module with a hook).
RULES: list[tuple[str, Callable[[StepContext], bool]]] = [
    ("impl is scratch (its point is its own modules under autograd)", lambda c: c.impl != "torch"),
    ("the device is not the CPU (on a GPU, compile and CUDA graphs are the fast path)",
     lambda c: c.device.type != "cpu"),
    ("it runs under torch.distributed (DDP)", lambda c: c.world > 1),
    ("compile is on", lambda c: c.compile),
    ((f"the loss is {{loss}}; by hand: {', '.join(HAND_LOSSES)} (cross_entropy and bce_with_logits also "
      f"with class weights and label smoothing); {', '.join(n for n in LOSSES if n not in HAND_LOSSES)} "
      "take autograd"), lambda c: c.loss not in HAND_LOSSES),
    ("a penalty term is added to the loss", lambda c: c.penalty),
    ("grad_clip is on (the gradients' global norm is clipped under autograd)", lambda c: c.grad_clip > 0),
    ("the model is a TabM-style ensemble ({model}): its members' mean loss trains under autograd",
     lambda c: isinstance(c.model, Ensemble)),
    ("the model is a {model}, not an nn.Sequential MLP", lambda c: not isinstance(c.model, nn.Sequential)),
    ("the model's class {model} overrides forward", lambda c: _own_forward(c.model)),
    ("global module hooks are registered", lambda c: _global_hooks()),
    ("a hook is registered on {hooked}", lambda c: _hooked(c.model) is not None),
    ("amp is on and the model has a PeriodicEmbedding (by hand embeds in float32/float64 only)",
     lambda c: c.amp is not None and any(type(m) is PeriodicEmbedding for m in c.model.modules())),
]


def why_not_hand(ctx: StepContext) -> str | None:
    """The reason backprop by hand does not apply to this run, or None when it does."""
    for why, holds in RULES:
        if holds(ctx):
            return why.format(loss=ctx.loss_text, model=type(ctx.model).__name__, hooked=_hooked(ctx.model))
    layers = hand_backprop.layers_of(ctx.model)  # the model's own modules, layer by layer
    if isinstance(layers, str):
        return layers
    return hand_backprop.HandStep.check_optimizer(layers, ctx.opt)


class AutogradStep:
    """zero_grad, forward, loss, backward, step: torch's own loop, through ``forward`` (the model, its DDP
    wrapper or its compiled form) under ``autocast`` when mixed precision is on.

    ``grad_clip`` > 0 clips the gradients' global norm (``clip_grad_norm_``) before ``opt.step()``. When
    ``model`` is an ``Ensemble`` its training output is (B, k, C): the loss is the mean of the k members'
    losses, taken as one loss over (B·k, C) with each target repeated k times (class weights and label
    smoothing apply per member), and the outputs returned are the members' mean (``model.combine``), as in eval.
    """

    def __init__(self, forward: Callable, loss_fn: Callable, opt: torch.optim.Optimizer, *, world: int = 1,
                 amp: str | None = None, device: torch.device = torch.device("cpu"), check_now: bool = True,
                 penalty: Callable | None = None, model: nn.Module | None = None, grad_clip: float = 0.0):
        self.forward, self.loss_fn, self.opt, self.world, self.check_now = forward, loss_fn, opt, world, check_now
        self.penalty, self.model, self.grad_clip = penalty, model, grad_clip
        self.combine = model.combine if isinstance(model, Ensemble) else None
        self.params = [p for group in opt.param_groups for p in group["params"]]
        # a disabled torch.autocast still costs ~10 µs per batch on CPU: no context at all unless asked for
        self.autocast = (lambda: torch.autocast(device.type, dtype=AMP[amp])) if amp else contextlib.nullcontext

    def step(self, x: Tensor, y: Tensor, share: float = 1.0) -> tuple[Tensor, Tensor]:
        """One update; returns the batch's loss (0-dim) and the model's outputs, both detached."""
        with self.autocast():
            out = self.forward(x)                                # (B, C), or (B, k, C) from an ensemble
            members = out if self.combine is not None else None
            if members is not None:                              # k rows per row, each with its own target
                k = members.shape[1]
                out, y = members.flatten(0, 1), y.repeat_interleave(k, dim=0)   # (B·k, C), (B·k, ...)
                share = share * k
            # one process: the batch mean; DDP averages ranks' gradients, so each sends sum / share
            loss = self.loss_fn(out, y) if self.world == 1 else self.loss_fn(out, y, reduction="sum") / share
        if members is not None:
            out = self.combine(members.detach())                 # (B, C): what eval mode returns
        if self.check_now and not math.isfinite(loss.item()):  # leave the weights as they were
            return loss.detach(), out.detach()
        self.opt.zero_grad(set_to_none=True)
        (loss if self.penalty is None else loss + self.penalty(self.model)).backward()  # the penalty shapes the
        if self.grad_clip:                                                                 # step, not the record
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.opt.step()
        return loss.detach(), out.detach()


MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
CHANNELS_LAST = ("mlplab's CNN on the CPU: a channels-last epoch measured 0.65-0.85× a contiguous one "
                 "(cnn and lenet, 1 and 2 threads: benchmarks/bench_nets.py)")


def choose_memory_format(model: nn.Module, device: torch.device, *, world: int = 1,
                         compile: bool = False) -> tuple[str, str]:
    """(``contiguous`` or ``channels_last``, why): the layout ``fit`` puts the model in, by the first rule that
    holds. Only the model moves: a convolution whose weight is channels-last computes in channels-last and hands
    that layout on, so the batches follow (a 1-channel batch is both layouts at once; the first convolution
    converts a multi-channel one).

    >>> choose_memory_format(CNN((28, 28), 10, spec="lenet"), torch.device("cpu"))[0]
    'channels_last'
    """
    rules = [  # every reason to keep torch's default layout, in order
        (not isinstance(model, CNN), f"the model is a {type(model).__module__}.{type(model).__qualname__}, not "
                                     "mlplab.models.cnn.CNN (the one model measured in channels-last)"),
        (device.type != "cpu", "the device is not the CPU (channels-last was measured on the CPU only)"),
        (world > 1, "it runs under torch.distributed (DDP), where channels-last was not measured"),
        (compile, "compile is on, where channels-last was not measured"),
    ]
    return next((("contiguous", why) for holds, why in rules if holds), ("channels_last", CHANNELS_LAST))


@dataclass
class Choice:
    step: object          # HandStep or AutogradStep: ``step(x, y, share) -> (loss, outputs)``
    path: str             # "hand" or "autograd"
    reason: str


def choose_step(backprop: str, ctx: StepContext, *, forward: Callable, loss_fn: Callable,
                penalty: Callable | None = None) -> Choice:
    """The step this run trains with, by the rules above; ``backprop="hand"`` where they forbid it says why."""
    if backprop not in BACKPROPS:
        raise ValueError(f"backprop must be one of {', '.join(BACKPROPS)}; got {backprop!r}")
    reason = "backprop 'autograd' was asked for" if backprop == "autograd" else why_not_hand(ctx)
    if reason is None:
        layers = hand_backprop.layers_of(ctx.model)
        hand = hand_backprop.HandStep(layers, ctx.opt, amp=AMP.get(ctx.amp), loss=ctx.loss, class_weight=ctx.class_weight,
                                      label_smoothing=ctx.label_smoothing)
        how = "SGD folded into the weight GEMMs" if hand.fold else f"gradients by hand, then {type(ctx.opt).__name__}.step()"
        model = "mlplab's MLP" + (" after a PeriodicEmbedding" if layers[0].embedding is not None else "")
        return Choice(hand, "hand", f"{model} with {ctx.loss_text.replace('_', ' ')} on the CPU: forward and "
                                    f"backward by hand ({how})")
    if backprop == "hand":
        raise ValueError(f"backprop 'hand' does not apply here: {reason}; use backprop 'auto' or 'autograd'")
    step = AutogradStep(forward, loss_fn, ctx.opt, world=ctx.world, amp=ctx.amp, device=ctx.device,
                        check_now=ctx.device.type == "cpu", penalty=penalty, model=ctx.model, grad_clip=ctx.grad_clip)
    return Choice(step, "autograd", reason)
