"""The MLP from scratch: ``nn.Parameter`` weights W (in, out), X @ W + b, scratch activations and dropout.

The same constructor as ``mlplab.models.mlp.MLP``. Weights are drawn in torch's (out, in) layout from the same
specs and seeded generator, then stored transposed, so the same seed starts both implementations from the
same numbers (and fan_in/fan_out mean what they mean for torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mlplab.models.embeddings import SIGMA
from mlplab.models.mlp import Parts, layer_specs, mlp_layers, numeric_embedding_for
from mlplab.scratch.activations import Activation, sigmoid, softmax
from mlplab.scratch.dropout import Dropout
from mlplab.scratch.init import init_linear, init_tensor
from mlplab.scratch.losses import log_softmax

OUTPUTS = {"log_softmax": log_softmax, "sigmoid": sigmoid, "softmax": lambda x: softmax(x, dim=1)}


class Flatten(nn.Module):
    """(N, d1, d2, ...) → (N, d1 · d2 · ...)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Linear(nn.Module):
    """y = x @ W + b, W of shape (in, out): the equation as written, no transpose."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.b = nn.Parameter(torch.empty(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        out = x @ self.W                       # (N, in) @ (in, out) → (N, out)
        return out if self.b is None else out + self.b

    def extra_repr(self) -> str:
        return f"W: {tuple(self.W.shape)}, bias={self.b is not None}"


PARTS = Parts(Flatten, Linear, Activation, Dropout, lambda name: Activation(name, OUTPUTS))


class MLP(nn.Sequential):
    """A multilayer perceptron from a spec, built from the scratch pieces (by the torch side's ``mlp_layers``).

    >>> MLP(3, [4, 4], 2, activation=["tanh", "relu"], init=["xavier_normal", "kaiming_normal", "default"])
    MLP(
      (0): Flatten()
      (1): Linear(W: (3, 4), bias=True)
      (2): Activation(tanh)
      (3): Linear(W: (4, 4), bias=True)
      (4): Activation(relu)
      (5): Linear(W: (4, 2), bias=True)
    )

    ``numeric_embedding`` puts the torch side's own ``PeriodicEmbedding`` first: torch has no built-in for it
    to twin, so both impls share that module (mlplab.models.embeddings).
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
            w = torch.empty(layer.W.shape[::-1])  # (out, in): torch's layout, drawn as torch draws it
            init_linear(w, layer.b, spec, generator=g)
            if bias_init != "default" and layer.b is not None:  # e.g. constant:0.1, as tutorials set it
                init_tensor(layer.b, bias_init, g)
            with torch.no_grad():
                layer.W.copy_(w.T)

    def linears(self) -> list[Linear]:
        return [m for m in self if isinstance(m, Linear)]
