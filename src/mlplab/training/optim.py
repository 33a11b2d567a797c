"""Optimizers by name, with torch's hyperparameter names, and weight decay on weights only.

The scratch twins live in ``mlplab.scratch.optim`` under the same names and signatures.
"""

from __future__ import annotations

import inspect
import sys

import torch
from torch import nn

from mlplab.registry import lookup

OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamax": torch.optim.Adamax,
}

# One fused kernel updates every parameter (CPU and CUDA since torch 2.4): fewer, larger ops per step than
# the per-tensor loop torch uses on CPU by default. Same update rule; used unless ``fused``/``foreach`` is given.
FUSED = (torch.optim.SGD, torch.optim.Adam)
FUSED_ON_CPU = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)


# torch.optim.Optimizer wraps these in torch._disable_dynamo, which imports torch._dynamo (about 1 s, more than
# torch itself takes to import) on the first call, to keep a torch.compile trace out of them.
DYNAMO_WRAPPED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def defer_dynamo() -> None:
    """Keep building, stepping and saving an optimizer from importing torch._dynamo until something else has.

    torch._disable_dynamo caches the disabled function on the wrapped one (``__dynamo_disable``); this seeds that
    cache with a function that calls the method as it is while torch._dynamo is not imported (nothing can be
    compiling then: torch.compile imports it), and hands over to ``torch._dynamo.disable`` once it is. So the
    methods behave as torch's in every case; only the import waits. A torch without that cache is left alone.
    """
    for name in DYNAMO_WRAPPED:
        fn = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
            setattr(fn, "__dynamo_disable", _until_dynamo(fn))


def _until_dynamo(fn):
    def call(*args, **kwargs):
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is None:
            return fn(*args, **kwargs)
        disabled = dynamo.disable(fn, True, wrapping=False)  # what torch._disable_dynamo would have cached
        setattr(fn, "__dynamo_disable", disabled)
        return disabled(*args, **kwargs)
    return call


def hyperparameters(cls) -> list[str]:
    """The keyword hyperparameters an optimizer class takes (``lr``, ``momentum``, ...)."""
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights (matrices) decay by ``weight_decay``; biases (vectors) never decay."""
    weights = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    biases = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0})
    return groups


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float = 0.0,
                   registry: dict | None = None, **hyper) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``model``'s parameters; ``weight_decay`` reaches weights, never biases.

    >>> make_optimizer("sgd", nn.Linear(2, 1), lr=0.1, momentum=0.9).defaults["momentum"]
    0.9
    """
    cls = lookup(OPTIMIZERS if registry is None else registry, name, "optimizer")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; got {weight_decay!r}")
    known = hyperparameters(cls)
    unknown = [k for k in hyper if k not in known]
    if unknown:
        raise ValueError(f"optimizer {name!r} takes no {', '.join(unknown)}; it takes: {', '.join(known)}")
    defer_dynamo()
    if cls in FUSED and FUSED_ON_CPU and not {"fused", "foreach"} & set(hyper):
        hyper["fused"] = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in model.parameters())
    return cls(param_groups(model, weight_decay), lr=lr, **hyper)



def build_optimizer(config, model: nn.Module, **extra) -> torch.optim.Optimizer:
    """The optimizer a TrainConfig describes over ``model`` (``config.impl``'s: torch's or the scratch twin);
    ``extra`` hyperparameters by torch's names. Fresh and resumed runs build it here, and so does ``fit``."""
    from mlplab.registry import impl_module

    optim = impl_module(config.impl, "optim")
    return optim.make_optimizer(config.optimizer, model, lr=config.lr, weight_decay=config.weight_decay,
                                registry=optim.OPTIMIZERS, **config.optimizer_args(), **extra)
