"""Inverted dropout from scratch: y = mask · x / (1 − p), mask ~ Bernoulli(1 − p); identity in eval mode.

The same names and signatures as ``mlplab.models.dropout``. The mask is drawn with ``bernoulli_(1 − p)`` on the
given generator (torch's global one when None), as torch's CPU dropout draws it, so the same seed gives the
same mask on both sides.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlplab.models.dropout import check_p


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """mask · x / (1 − p) in training; ``x`` itself when not training or p = 0; zeros when p = 1.

    As torch's ``F.dropout``, an integer or bool ``x`` with 0 < p < 1 in training is a RuntimeError: the kept
    values are scaled by 1 / (1 − p), which is not an integer.
    """
    p = check_p(p)
    if not training or p == 0:
        return x
    if p == 1:
        return x * torch.zeros_like(x)  # keeps x's shape, dtype (bool too) and graph, as torch
    if not x.is_floating_point():
        raise RuntimeError(f"dropout with 0 < p < 1 scales the kept values by 1/(1 − p), so it needs a floating "
                           f"point tensor; got dtype {x.dtype} (p = {p}): convert with x.float() first")
    mask = torch.empty_like(x).bernoulli_(1 - p, generator=generator)  # (same shape as x), 1 = kept
    return mask * x / (1 - p)


class Dropout(nn.Module):
    """Dropout as a module, following ``model.train()`` / ``model.eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_p(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
