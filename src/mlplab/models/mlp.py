"""The MLP built from a spec with torch.nn: Flatten → [embedding] → (Linear → activation → Dropout)* → Linear.

The scratch twin (``mlplab.scratch.model.MLP``) takes the same arguments and keeps its own weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mlplab.models.activations import Activation
from mlplab.models.embeddings import SIGMA, PeriodicEmbedding
from mlplab.models.init import init_linear, init_tensor, parse_init

OUTPUTS = {"log_softmax": lambda: nn.LogSoftmax(dim=1), "sigmoid": nn.Sigmoid, "softmax": lambda: nn.Softmax(dim=1)}


def per_layer(value, n: int, what: str) -> list:
    """One value for every layer, or exactly one per layer: returns a list of ``n``."""
    if isinstance(value, (str, int, float)):
        return [value] * n
    value = list(value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{what} needs one value or one per layer ({n}); got {len(value)}: {value}")
    return value


def check_spec(input_size: int, hidden: Sequence[int], output_size: int, dropout) -> list[int]:
    """Validate widths and dropout; return the widths [input, *hidden, output]."""
    hidden = list(hidden)
    widths = [input_size, *hidden, output_size]
    if any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in widths):
        raise ValueError(f"hidden widths must be positive integers, e.g. --hidden 256,256; got {hidden}")
    for p in per_layer(dropout, max(len(hidden), 1), "dropout"):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"dropout must be in [0, 1), e.g. --dropout 0.5; got {p!r}")
    if not hidden and any(p > 0 for p in per_layer(dropout, 1, "dropout")):
        raise ValueError(f"dropout acts on hidden layers and this model has none; add one (e.g. --hidden 256) "
                         f"or drop --dropout; got dropout {dropout!r}")
    return widths


def layer_specs(input_size: int, hidden: Sequence[int], output_size: int, activation, dropout, init):
    """A checked spec, per layer: widths, activations and dropouts (one per hidden layer), inits (one per affine
    layer). Both MLPs, torch.nn and scratch, build from this, so they read a spec the same way."""
    widths = check_spec(input_size, hidden, output_size, dropout)
    n_hidden = len(widths) - 2
    inits = per_layer(init, n_hidden + 1, "init")
    for spec in inits:
        parse_init(spec)  # fail on a bad name before building anything
    return (widths, per_layer(activation, n_hidden, "activation"), per_layer(dropout, n_hidden, "dropout"),
            inits)


@dataclass(frozen=True)
class Parts:
    """The layer constructors an MLP is built from: torch's here, the from-scratch twins in mlplab.scratch.mlp."""

    flatten: Callable[[], nn.Module]
    linear: Callable[..., nn.Module]          # (in, out, bias=...)
    activation: Callable[[str], nn.Module]
    dropout: Callable[[float], nn.Module]
    output: Callable[[str], nn.Module]        # "log_softmax" | "sigmoid" | "softmax"


def numeric_embedding_for(input_size: int, frequencies: int, numeric: Sequence[int] | None,
                          generator: torch.Generator, sigma: float = SIGMA) -> PeriodicEmbedding | None:
    """The periodic embedding of the inputs at ``numeric`` (None: all of them) with ``frequencies`` k whose
    values start from N(0, ``sigma``²), drawn from ``generator``; None when ``frequencies`` is 0 (no embedding)."""
    if isinstance(frequencies, bool) or not isinstance(frequencies, int) or frequencies < 0:
        raise ValueError(f"numeric_embedding is a number of frequencies, a positive integer (e.g. 16), or 0 for "
                         f"none; got {frequencies!r}")
    if not frequencies:
        return None
    numeric = range(input_size) if numeric is None else numeric
    return PeriodicEmbedding(numeric, input_size, frequencies, sigma=sigma, generator=generator)


def mlp_layers(widths: list[int], acts: list[str], drops: list[float], bias: bool, output: str | None,
               parts: Parts, embedding: nn.Module | None = None) -> list[nn.Module]:
    """Flatten → [embedding] → (Linear → activation → [Dropout])* → Linear → [output]: the one MLP builder
    both impls use. ``widths[0]`` is what the first Linear takes: the embedding's ``out_features`` if any."""
    layers = [parts.flatten()] + ([embedding] if embedding is not None else [])
    for i in range(len(widths) - 2):
        layers += [parts.linear(widths[i], widths[i + 1], bias=bias), parts.activation(acts[i])]
        if drops[i] > 0:
            layers.append(parts.dropout(drops[i]))
    layers.append(parts.linear(widths[-2], widths[-1], bias=bias))
    if output is not None:
        layers.append(parts.output(output))
    return layers


PARTS = Parts(nn.Flatten, nn.Linear, Activation, nn.Dropout, lambda name: OUTPUTS[name]())


class MLP(nn.Sequential):
    """A multilayer perceptron from a spec.

    >>> MLP(784, [256], 10)   # d2l's 784-256-10: 203,530 parameters
    MLP(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=784, out_features=256, bias=True)
      (2): Activation(relu)
      (3): Linear(in_features=256, out_features=10, bias=True)
    )

    ``activation``, ``dropout`` and ``init`` take one value or one per layer (``init``: per affine layer,
    output included). Biases start at zero unless ``init`` is ``default`` (torch's own reset).
    ``output`` appends ``log_softmax`` or ``sigmoid`` for losses that expect them (nll, bce).
    ``numeric_embedding`` k > 0 puts a ``PeriodicEmbedding`` with k frequencies of the inputs at ``numeric``
    (None: all) before the first Linear (mlplab.models.embeddings).
    """

    def __init__(self, input_size: int, hidden: Sequence[int], output_size: int, *,
                 activation: str | Sequence[str] = "relu", dropout: float | Sequence[float] = 0.0,
                 init: str | Sequence[str] = "default", bias: bool = True, output: str | None = None,
                 seed: int = 0, numeric_embedding: int = 0, numeric: Sequence[int] | None = None,
                 numeric_embedding_sigma: float = SIGMA,
                 bias_init: str = "default"):
        g = torch.Generator().manual_seed(seed)
        embedding = numeric_embedding_for(input_size, numeric_embedding, numeric, g, numeric_embedding_sigma)
        first = input_size if embedding is None else embedding.out_features
        widths, acts, drops, inits = layer_specs(first, hidden, output_size, activation, dropout, init)
        super().__init__(*mlp_layers(widths, acts, drops, bias, output, PARTS, embedding))
        for layer, spec in zip(self.linears(), inits):
            init_linear(layer.weight, layer.bias, spec, generator=g)
            if bias_init != "default" and layer.bias is not None:  # e.g. constant:0.1, as tutorials set it
                init_tensor(layer.bias, bias_init, g)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]
