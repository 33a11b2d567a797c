"""Weight averaging: an exponential moving average of the weights, what evaluation and the final model use.

After every step the average moves towards the weights training has reached, a ← ema · a + (1 − ema) · w
(Polyak & Juditsky 1992; Keras' ``use_ema``, timm's ``ModelEmaV2``); training itself goes on from w. At the end
of each epoch the model is given the average (``swap``), so the validation and test columns, early stopping's
best weights, the checkpoint and the final model are the average's; the next epoch swaps the training weights
back in. The weights the model does not hold travel in the checkpoint (``TrainState.ema``), so a resumed
run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class WeightAverage:
    """The average of ``model``'s parameters with decay ``ema`` per step; ``held``: a resumed run's
    ``TrainState.ema`` (the training weights, while the model holds the average it was saved with)."""

    def __init__(self, model: nn.Module, ema: float, held: list[Tensor] | None = None):
        self.params = list(model.parameters())
        self.ema = ema
        self.other = [p.detach().clone() for p in self.params]  # while training: the average
        self.swapped = False                                     # True: the model holds the average
        if held is not None:
            with torch.no_grad():
                for p, h in zip(self.params, held, strict=True):
                    p.copy_(h)

    @torch.no_grad()
    def update(self) -> None:
        """After a step: a ← a + (1 − ema) · (w − a)."""
        torch._foreach_lerp_(self.other, [p.detach() for p in self.params], 1 - self.ema)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the model's weights with the ones kept here."""
        for p, o in zip(self.params, self.other):
            held = p.detach().clone()
            p.copy_(o)
            o.copy_(held)
        self.swapped = not self.swapped
