"""A ``PeriodicEmbedding``'s forward and gradients by hand, for mlplab.training.backprop's ``HandStep``.

The embedding (mlplab.models.embeddings) comes first, before the first Linear. Per embedded column j (input
x_j (B,), frequencies c_j (k,), W_j (2k, d)): v = 2π x_j c_j,  E_j = [sin v, cos v],  Z_j = E_j W_j + b_j,
H_j = relu(Z_j); A₀ = [H_1 … H_F, the other columns]. With ∂ℓ/∂A₀ = δ₁ W₁ (its first F·d columns, per column
j a (B, d) block; the passed-through columns need no gradient):

    δ_Zj = ∂ℓ/∂H_j ⊙ (H_j > 0)      ∂ℓ/∂W_j = E_jᵀ δ_Zj      ∂ℓ/∂b_j = Σ_rows δ_Zj
    δ_Ej = δ_Zj W_jᵀ = [δ_sin, δ_cos]      δ_v = δ_sin ⊙ cos v − δ_cos ⊙ sin v      ∂ℓ/∂c_j = Σ_rows δ_v ⊙ 2π x_j

with sin v and cos v kept from the forward pass. All F columns go at once as batched products (bmm over F).
tests/test_backprop.py checks them against autograd in float64.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mlplab.models.embeddings import PeriodicEmbedding


def embed(emb: PeriodicEmbedding, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """The embedding's forward, as its own: the output (B, F·d + rest) and what the gradients need:
    (2π x_j (F, B, 1), [sin v, cos v] (F, B, 2k), H (F, B, d))."""
    n, _, d = emb.weight.shape
    u = 2 * math.pi * x[:, emb.positions].T[..., None]                       # (F, B, 1)
    v = u * emb.frequencies[:, None, :]                                        # (F, B, k)
    e = torch.cat([torch.sin(v), torch.cos(v)], dim=-1)                        # (F, B, 2k)
    h = torch.baddbmm(emb.bias.view(n, 1, d), e, emb.weight).relu_()          # (F, B, d)
    return torch.cat([h.transpose(0, 1).flatten(1), x[:, emb.others]], dim=1), (u, e, h)


def embedding_gradients(emb: PeriodicEmbedding, delta: Tensor, u: Tensor, e: Tensor,
                        h: Tensor) -> dict[Tensor, Tensor]:
    """From ∂ℓ/∂H (B, F·d) to ∂ℓ/∂p for each of the embedding's parameters p (shaped like p), by the module
    docstring's formulas, with its weights as they were in the forward pass."""
    n, two_k, d = emb.weight.shape
    k = two_k // 2
    dz = torch.ops.aten.threshold_backward(delta.view(len(delta), n, d).transpose(0, 1), h, 0.0)  # (F, B, d): δ_Z
    de = torch.bmm(dz, emb.weight.transpose(1, 2))                            # (F, B, 2k)
    dv = de[..., :k] * e[..., k:] - de[..., k:] * e[..., :k]                  # δ_sin cos v − δ_cos sin v (F, B, k)
    return {emb.weight: torch.bmm(e.transpose(1, 2), dz),                    # (F, 2k, d)
            emb.bias: dz.sum(1).reshape(-1),                                  # (F·d,)
            emb.frequencies: torch.bmm(u.transpose(1, 2), dv).view(n, k)}     # Σ_B δ_v 2π x_j (F, k)
