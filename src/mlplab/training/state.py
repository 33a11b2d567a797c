"""What a run carries from epoch to epoch besides its record (the History): the weights the model does not hold.

- ``best``: early stopping's best epoch's weights so far (mlplab.training.callbacks.EarlyStopping), put back
  when training ends;
- ``ema``: with weight averaging, the training weights while the model holds their average
  (mlplab.training.averaging).

The checkpointer owns it (mlplab.runs.checkpoint saves it beside the model and the optimizer), so a resumed run
continues with the same state, as if it had never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class TrainState:
    best: dict[str, Tensor] | None = None   # a state_dict
    ema: list[Tensor] | None = None         # one tensor per parameter, in model.parameters() order
