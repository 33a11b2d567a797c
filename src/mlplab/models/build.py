"""The model a config describes, torch.nn or scratch: one builder for both implementations."""

from __future__ import annotations

import math

from torch import nn

from mlplab.config import TrainConfig
from mlplab.registry import impl_module
from mlplab.training.losses import OUTPUT_ACTIVATION, loss_for_task


def build_model(config: TrainConfig, input_shape: tuple[int, ...], task: str, output_size: int) -> nn.Module:
    """The MLP ``config`` describes (``config.impl``'s modules) with the output layer its loss expects.

    >>> from mlplab.config import TrainConfig
    >>> build_model(TrainConfig(hidden=(8,)), (4,), "multiclass", 3)[1]
    Linear(in_features=4, out_features=8, bias=True)
    """
    mlp = impl_module(config.impl, "mlp").MLP
    loss = loss_for_task(config.loss, task)
    return mlp(math.prod(input_shape), list(config.hidden), output_size, activation=list(config.activation),
               dropout=list(config.dropout), init=list(config.init), bias=config.bias,
               output=OUTPUT_ACTIVATION.get(loss), seed=config.seed)
