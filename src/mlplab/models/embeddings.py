"""Periodic embeddings of numeric features (PLR): each number becomes d learned features before the first Linear.

Gorishniy, Rubachev & Babenko (2022), "On Embeddings for Numerical Features in Tabular Deep Learning", the
PLR variant (Periodic → Linear → ReLU). Per numeric column j of the encoded input x, with k frequencies:

    v   = 2π · c_j · x_j                 c_j ∈ R^k learned, c ~ N(0, σ²)
    e_j = [sin v, cos v]                 ∈ R^{2k}
    h_j = ReLU(W_j e_j + b_j)            ∈ R^d, W_j (d × 2k) per column, W ~ N(0, 1/(2k)), b = 0

The output is [h_1, …, h_F, the other columns unchanged, in order]: a table's one-hot slots and missing
indicators are not embedded. The table recipe (mlplab.training.presets) puts it before the MLP of every table
with numeric columns, with σ by task; what it measured: benchmarks/RESULTS.md.

torch has no built-in to twin, so ``--impl scratch`` uses this same module (mlplab.scratch.mlp).

>>> emb = PeriodicEmbedding([0, 2], width=4)          # columns 0 and 2 embedded, 1 and 3 passed through
>>> emb(torch.zeros(5, 4)).shape, emb.out_features     # 2 · 16 + (4 − 2)
(torch.Size([5, 34]), 34)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

FREQUENCIES = 16   # k: the paper's PLR ("lite") setting; the config key numeric_embedding sets it
DIM = 16           # d: features per numeric column
SIGMA = 1.0        # σ: the frequencies' initial spread (the paper tunes it in [0.01, 100]); measured below


class PeriodicEmbedding(nn.Module):
    """x (B, width) → (B, F·d + width − F): the columns at ``positions`` embedded (see the module docstring),
    then the others unchanged. ``positions`` is a buffer, so state_dict and checkpoints carry it."""

    def __init__(self, positions: Sequence[int], width: int, frequencies: int = FREQUENCIES, dim: int = DIM,
                 sigma: float = SIGMA, generator: torch.Generator | None = None):
        super().__init__()
        positions = [int(p) for p in positions]
        if not positions:
            raise ValueError("numeric_embedding embeds numeric columns and these inputs have none (a table of "
                             "categorical columns only); leave numeric_embedding at 0")
        if positions != sorted(set(positions)) or positions[0] < 0 or positions[-1] >= width:
            raise ValueError(f"positions must be distinct column indices in increasing order within [0, {width}); "
                             f"got {positions}")
        for name, value in (("frequencies", frequencies), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, e.g. 16; got {value!r}")
        n = len(positions)
        self.register_buffer("positions", torch.tensor(positions, dtype=torch.int64))
        others = sorted(set(range(width)) - set(positions))
        self.register_buffer("others", torch.tensor(others, dtype=torch.int64))
        self.frequencies = nn.Parameter(torch.empty(n, frequencies))    # c: (F, k)
        self.weight = nn.Parameter(torch.empty(n, 2 * frequencies, dim))  # W_jᵀ: (F, 2k, d), e_j @ W_jᵀ
        # stored flat (F·d,): a vector, so weight decay leaves it alone as it does every bias (training.optim)
        self.bias = nn.Parameter(torch.zeros(n * dim))
        with torch.no_grad():
            self.frequencies.normal_(0.0, sigma, generator=generator)
            self.weight.normal_(0.0, 1 / math.sqrt(2 * frequencies), generator=generator)

    @property
    def out_features(self) -> int:
        n, _, d = self.weight.shape
        return n * d + len(self.others)

    def forward(self, x: Tensor) -> Tensor:
        n, _, d = self.weight.shape
        v = (2 * math.pi * x[:, self.positions].T[..., None]) * self.frequencies[:, None, :]   # (F, B, k)
        e = torch.cat([torch.sin(v), torch.cos(v)], dim=-1)                                   # (F, B, 2k)
        h = torch.relu(torch.baddbmm(self.bias.view(n, 1, d), e, self.weight))               # (F, B, d)
        # flatten, not reshape(B, ·): a traced batch size would be frozen into the exported graph
        return torch.cat([h.transpose(0, 1).flatten(1), x[:, self.others]], dim=1)             # (B, F·d + rest)

    def extra_repr(self) -> str:
        n, two_k, d = self.weight.shape
        return f"{n} columns, frequencies={two_k // 2}, dim={d}, passed through={len(self.others)}"


def numeric_positions(data) -> list[int]:
    """The input columns a numeric embedding takes, for a Dataset or Schema: a table's (``data.columns``,
    mlplab.data.columns) numeric value slots (not their missing indicators, not one-hot slots); otherwise every
    feature.

    >>> from mlplab.data.load import load_dataset
    >>> numeric_positions(load_dataset("iris"))
    [0, 1, 2, 3]
    """
    if data.columns is None:
        return list(range(math.prod(data.input_shape)))
    positions, start = [], 0
    for column in data.columns.columns:
        if column.kind == "numeric":
            positions.append(start)  # its value; the missing indicator, when there is one, follows
        start += column.width
    return positions
