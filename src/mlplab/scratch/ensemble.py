"""TabM-mini from scratch: the members' scaling, their heads and the mean of their predictions as the equations
read (mlplab.models.ensemble's docstring), with the scratch MLP's layers shared by all k members.

The same names, signatures and parameter layouts as ``mlplab.models.ensemble``: ``MemberScaling.weight`` (k, d),
``MemberHeads.weight`` (k, d, C) and ``.bias`` (k · C,) load from one side into the other. The shared layers are
the scratch MLP's (``Linear.W`` (in, out), mlplab.scratch.mlp), drawn from the same seed as torch's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mlplab.models.embeddings import SIGMA
from mlplab.models.ensemble import Ensemble, check_members, draw_scaling, scaling_start
from mlplab.models.mlp import layer_specs, mlp_layers, numeric_embedding_for
from mlplab.scratch.init import init_linear
from mlplab.scratch.losses import log_softmax
from mlplab.scratch.mlp import PARTS, Linear


def log_mean_exp(a: Tensor, dim: int) -> Tensor:
    """log((1/k) Σ_i exp(a_i)) along ``dim`` (size k), the maximum taken out first so nothing overflows."""
    m = a.amax(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(a - m).mean(dim=dim, keepdim=True))).squeeze(dim)


def log_sigmoid(y: Tensor) -> Tensor:
    """log(1 / (1 + e^(−y))) = min(y, 0) − log(1 + e^(−|y|))."""
    return torch.clamp(y, max=0) - torch.log1p(torch.exp(-y.abs()))


def mean_of_members(out: Tensor, task: str) -> Tensor:
    """(B, k, C) → (B, C): log (1/k) Σ_i softmax(y_i); logit (1/k) Σ_i sigmoid(y_i) = log p̄ − log(1 − p̄);
    or (1/k) Σ_i y_i."""
    if task == "multiclass":
        return log_mean_exp(log_softmax(out, dim=2), dim=1)
    if task == "binary":
        return log_mean_exp(log_sigmoid(out), dim=1) - log_mean_exp(log_sigmoid(-out), dim=1)
    return out.sum(dim=1) / out.shape[1]


class MemberScaling(nn.Module):
    """h_i = x_i ⊙ r_i for each member i; ``weight`` (k, d) holds r_1 .. r_k."""

    def __init__(self, k: int, width: int, init: str = "random-signs", chunks: Sequence[int] | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        chunks = [1] * width if chunks is None else list(chunks)
        if sum(chunks) != width:
            raise ValueError(f"scaling chunks must add up to the width {width}; got {chunks} (sum {sum(chunks)})")
        self.weight = nn.Parameter(draw_scaling(k, chunks, init, generator))

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([x[:, i] * self.weight[i] for i in range(self.weight.shape[0])], dim=1)  # (B, k, d)

    def extra_repr(self) -> str:
        return f"k={self.weight.shape[0]}, width={self.weight.shape[1]}"


class MemberHeads(nn.Module):
    """y_i = x_i @ W_i + b_i for each member i: ``weight`` (k, d, C), ``bias`` (k · C,) (b_i its i-th C)."""

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True, init: str = "default",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(k * out_features)) if bias else None
        with torch.no_grad():
            for i in range(k):  # each drawn as torch draws an (out, in) weight, then stored (in, out)
                w, b = torch.empty(out_features, in_features), torch.empty(out_features) if bias else None
                init_linear(w, b, init, generator=generator)
                self.weight[i] = w.T
                if bias:
                    self.bias[i * out_features:(i + 1) * out_features] = b

    def forward(self, x: Tensor) -> Tensor:
        k, _, c = self.weight.shape
        ys = []
        for i in range(k):
            y = x[:, i] @ self.weight[i]                             # (B, d) @ (d, C) → (B, C)
            ys.append(y if self.bias is None else y + self.bias[i * c:(i + 1) * c])
        return torch.stack(ys, dim=1)                                # (B, k, C)

    def extra_repr(self) -> str:
        k, d, c = self.weight.shape
        return f"k={k}, in_features={d}, out_features={c}, bias={self.bias is not None}"


class EnsembleMLP(Ensemble):
    """TabM-mini around the scratch MLP a spec describes: ``mlplab.models.ensemble.EnsembleMLP``'s arguments and
    draws, scratch layers.

    >>> m = EnsembleMLP(4, [16], 3, k=8)
    >>> m(torch.zeros(5, 4)).shape, m.eval()(torch.zeros(5, 4)).shape   # members in training, their mean in eval
    (torch.Size([5, 8, 3]), torch.Size([5, 3]))
    """

    def __init__(self, input_size: int, hidden: Sequence[int], output_size: int, *, k: int = 8,
                 task: str = "multiclass", activation: str | Sequence[str] = "relu",
                 dropout: float | Sequence[float] = 0.0, init: str | Sequence[str] = "default", bias: bool = True,
                 seed: int = 0, numeric_embedding: int = 0, numeric: Sequence[int] | None = None,
                 numeric_embedding_sigma: float = SIGMA):
        super().__init__()
        check_members(k, task, output_size)
        self.k, self.task = k, task
        g = torch.Generator().manual_seed(seed)
        embedding = numeric_embedding_for(input_size, numeric_embedding, numeric, g, numeric_embedding_sigma)
        first = input_size if embedding is None else embedding.out_features
        widths, acts, drops, inits = layer_specs(first, hidden, output_size, activation, dropout, init)
        layers = mlp_layers(widths, acts, drops, bias, None, PARTS, embedding)[:-1]  # its last Linear: the heads
        n_embed = 1 if embedding is None else 2
        self.embed, self.backbone = nn.Sequential(*layers[:n_embed]), nn.Sequential(*layers[n_embed:])
        for layer, spec in zip(self.linears(), inits):
            w = torch.empty(layer.W.shape[::-1])  # (out, in): torch's layout, drawn as torch draws it
            init_linear(w, layer.b, spec, generator=g)
            with torch.no_grad():
                layer.W.copy_(w.T)
        self.heads = MemberHeads(k, widths[-2], output_size, bias=bias, init=inits[-1], generator=g)
        self.scaling = MemberScaling(k, first, *scaling_start(embedding, first), generator=g)

    def combine(self, out: Tensor) -> Tensor:
        return mean_of_members(out, self.task)

    def linears(self) -> list[Linear]:
        """The shared affine layers (not the heads)."""
        return [m for m in self.backbone if isinstance(m, Linear)]
