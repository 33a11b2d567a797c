"""TabM-mini: k members share one MLP; each scales the input its own way and has its own output layer.

Gorishniy, Kotelnikov & Babenko (ICLR 2025), "TabM: Advancing tabular deep learning with parameter-efficient
ensembling" (package ``tabm``: ``MLPBackboneMiniEnsemble``, ``ElementwiseAffine``, ``LinearEnsemble``). For a row
x (after Flatten and any PeriodicEmbedding, width d) and member i = 1..k:

    h_i = x ⊙ r_i                         r_i ∈ R^d: member i's scaling, its only own weights before its head
    z_i = MLP_shared(h_i)                 the plain MLP's hidden layers, one set of weights for all k
    y_i = z_i W_i + b_i                   member i's head, W (k, d_last, C), b (k · C,)

Training minimises the mean of the k members' losses (mlplab.training.step flattens (B, k, C) to (B·k, C) and
repeats each target k times); the ensemble predicts the mean of the members' predictions (``mean_of_members``):

    multiclass   log( (1/k) Σ_i softmax(y_i) )        its softmax is the mean probability exactly
    binary       logit( (1/k) Σ_i sigmoid(y_i) )      one logit, as bce_with_logits expects
    regression   (1/k) Σ_i y_i

so in eval mode ``forward`` returns one (B, C) output per row that the rest of mlplab reads unchanged; in train
mode it returns the members' (B, k, C). r starts at random signs ±1 (TabM's ``random-signs``) or, after a
PeriodicEmbedding, N(0, 1) (TabM's ``normal``), one draw per input column (each embedded column's d features
share theirs: TabM's chunks). The shared layers and head 0 draw the plain MLP's numbers for the same seed.

The scratch twin is ``mlplab.scratch.ensemble``, with the same names, signatures and parameter layouts.

>>> m = EnsembleMLP(4, [16], 3, k=8)
>>> m(torch.zeros(5, 4)).shape, m.eval()(torch.zeros(5, 4)).shape
(torch.Size([5, 8, 3]), torch.Size([5, 3]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlplab.models.embeddings import SIGMA
from mlplab.models.init import init_linear
from mlplab.models.mlp import PARTS, layer_specs, mlp_layers, numeric_embedding_for

TASKS = ("multiclass", "binary", "regression")


def draw_scaling(k: int, chunks: Sequence[int], init: str, generator: torch.Generator | None = None) -> Tensor:
    """r (k, Σ chunks): one value per member and chunk, repeated over the chunk's width. ``init``: ``random-signs``
    (±1, each with probability ½), ``normal`` (N(0, 1)) or ``ones`` (every member sees the input unchanged)."""
    draws = torch.empty(k, len(chunks))
    if init == "random-signs":
        draws.bernoulli_(0.5, generator=generator).mul_(2).sub_(1)
    elif init == "normal":
        draws.normal_(0.0, 1.0, generator=generator)
    elif init == "ones":
        draws.fill_(1.0)
    else:
        raise ValueError(f"scaling init must be random-signs, normal or ones; got {init!r}")
    return draws.repeat_interleave(torch.tensor(list(chunks)), dim=1)


def check_members(k: int, task: str, output_size: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"an ensemble needs k >= 2 members, e.g. --ensemble 8 (0: a plain MLP); got {k!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} (how the members' outputs are averaged); "
                         f"got {task!r}")
    if task == "binary" and output_size != 1:
        raise ValueError(f"a binary ensemble averages one logit per member (bce_with_logits); output_size must be "
                         f"1, got {output_size}")


def mean_of_members(out: Tensor, task: str) -> Tensor:
    """(B, k, C) member outputs → (B, C): the log of the mean softmax, the logit of the mean sigmoid, or the
    mean (see the module docstring), computed stably with logsumexp."""
    if task == "multiclass":
        return torch.logsumexp(F.log_softmax(out, dim=2), dim=1) - math.log(out.shape[1])
    if task == "binary":  # 1 − sigmoid(y) = sigmoid(−y); the 1/k cancels
        return torch.logsumexp(F.logsigmoid(out), dim=1) - torch.logsumexp(F.logsigmoid(-out), dim=1)
    return out.mean(dim=1)


class MemberScaling(nn.Module):
    """(B, k, d) → (B, k, d): member i's row scaled by its own r_i; ``weight`` (k, d), drawn by ``draw_scaling``
    (``chunks`` None: one draw per column)."""

    def __init__(self, k: int, width: int, init: str = "random-signs", chunks: Sequence[int] | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        chunks = [1] * width if chunks is None else list(chunks)
        if sum(chunks) != width:
            raise ValueError(f"scaling chunks must add up to the width {width}; got {chunks} (sum {sum(chunks)})")
        self.weight = nn.Parameter(draw_scaling(k, chunks, init, generator))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weight                                  # (B, k, d) ⊙ (k, d)

    def extra_repr(self) -> str:
        return f"k={self.weight.shape[0]}, width={self.weight.shape[1]}"


class MemberHeads(nn.Module):
    """(B, k, d) → (B, k, C): k output layers, y_i = x_i W_i + b_i. ``weight`` (k, d, C); ``bias`` stored flat
    (k · C,), a vector, so weight decay leaves it alone as it does every bias (mlplab.training.optim). Each member
    is drawn as an nn.Linear(d, C) with ``init`` (mlplab.models.init; ``default``: U(±1/√d), TabM's own)."""

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True, init: str = "default",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(k * out_features)) if bias else None
        with torch.no_grad():
            for i in range(k):  # member by member, in torch's (out, in) layout: head 0 draws what nn.Linear would
                w, b = torch.empty(out_features, in_features), torch.empty(out_features) if bias else None
                init_linear(w, b, init, generator=generator)
                self.weight[i] = w.T
                if bias:
                    self.bias[i * out_features:(i + 1) * out_features] = b

    def forward(self, x: Tensor) -> Tensor:
        k, _, c = self.weight.shape
        if self.bias is None:
            return torch.bmm(x.transpose(0, 1), self.weight).transpose(0, 1)             # (B, k, C)
        return torch.baddbmm(self.bias.view(k, 1, c), x.transpose(0, 1), self.weight).transpose(0, 1)

    def extra_repr(self) -> str:
        k, d, c = self.weight.shape
        return f"k={k}, in_features={d}, out_features={c}, bias={self.bias is not None}"


class Ensemble(nn.Module):
    """The forward both EnsembleMLPs (torch and scratch) share: ``embed`` → k views → ``scaling`` → ``backbone``
    → ``heads``; in eval mode ``combine``d into one output per row."""

    k: int
    task: str

    def members(self, x: Tensor) -> Tensor:
        """Every member's output (B, k, C), in train and eval mode alike."""
        h = self.embed(x)                                       # (B, d)
        h = h.unsqueeze(1).expand(-1, self.k, -1)               # (B, k, d): k views of one row, no copy
        return self.heads(self.backbone(self.scaling(h)))       # (B, k, C)

    def forward(self, x: Tensor) -> Tensor:
        """(B, k, C) in train mode (the step takes the mean of the members' losses), (B, C) in eval mode."""
        out = self.members(x)
        return out if self.training else self.combine(out)

    def combine(self, out: Tensor) -> Tensor:
        """(B, k, C) → (B, C): each impl's ``mean_of_members``."""
        raise NotImplementedError


class EnsembleMLP(Ensemble):
    """TabM-mini around the MLP a spec describes (the same arguments as ``mlplab.models.mlp.MLP`` but ``output``),
    with ``k`` members and the ``task`` that says how their outputs are averaged.

    >>> EnsembleMLP(4, [16], 3, k=8)
    EnsembleMLP(
      (embed): Sequential(
        (0): Flatten(start_dim=1, end_dim=-1)
      )
      (backbone): Sequential(
        (0): Linear(in_features=4, out_features=16, bias=True)
        (1): Activation(relu)
      )
      (heads): MemberHeads(k=8, in_features=16, out_features=3, bias=True)
      (scaling): MemberScaling(k=8, width=4)
    )
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
            init_linear(layer.weight, layer.bias, spec, generator=g)
        self.heads = MemberHeads(k, widths[-2], output_size, bias=bias, init=inits[-1], generator=g)
        # drawn last, so the shared layers and head 0 start from the plain MLP's numbers for the same seed
        self.scaling = MemberScaling(k, first, *scaling_start(embedding, first), generator=g)

    def combine(self, out: Tensor) -> Tensor:
        return mean_of_members(out, self.task)

    def linears(self) -> list[nn.Linear]:
        """The shared affine layers (not the heads)."""
        return [m for m in self.backbone if isinstance(m, nn.Linear)]


def scaling_start(embedding, width: int) -> tuple[str, list[int]]:
    """(init, chunks) of r as TabM starts it: random signs per input column; after an embedding N(0, 1), one
    draw per embedded column (its d features) and per column passed through."""
    if embedding is None:
        return "random-signs", [1] * width
    n, _, d = embedding.weight.shape
    return "normal", [d] * n + [1] * (width - n * d)
