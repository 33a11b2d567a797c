"""Dropout: torch's ``F.dropout`` behind a function that also takes an explicit generator.

Training: each element is zeroed with probability p and the survivors scaled by 1 / (1 − p) ("inverted"
dropout, Srivastava et al. 2014), so evaluation is the identity. The scratch twin is ``mlplab.scratch.dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_p(p: float) -> float:
    """A dropout probability must be a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability p must be in [0, 1], e.g. 0.5; got {p!r}")
    return float(p)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Zero each element of ``x`` with probability ``p`` and scale the rest by 1 / (1 − p); identity in eval.

    Without ``generator`` this is ``F.dropout`` (masks from torch's global generator). With one, the mask is
    drawn as torch's CPU kernel draws it, ``bernoulli_(1 − p)``, on that generator.
    """
    p = check_p(p)
    if generator is None or not training or p in (0.0, 1.0):
        return F.dropout(x, p, training)
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)  # same shape as x, 1 = kept
    return x * keep.div_(1 - p)


Dropout = nn.Dropout  # the module form: nn.Dropout(p), following model.train()/eval()
