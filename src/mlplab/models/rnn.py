"""A sequence classifier with torch.nn: an RNN (tanh) or LSTM reads (N, T, D), a Linear reads its last state.

An image (N, 28, 28) is read row by row: 28 steps of 28 features. Per layer, D the layer's input size
(D for the first, H above it), with torch's two biases:

    RNN   h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)                   H·(D + H) + 2H parameters
    LSTM  four gates i, f, g, o stacked in W_ih (4H, D), W_hh (4H, H)   4·(H·(D + H) + 2H) parameters

>>> RNNClassifier(28, 64, 10, cell="lstm")(torch.zeros(5, 28, 28)).shape
torch.Size([5, 10])

The scratch twin (``mlplab.scratch.rnn.RNNClassifier``) has the same state_dict keys and shapes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mlplab.models.init import init_linear, uniform
from mlplab.registry import lookup

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}


def check_sizes(input_size: int, hidden_size: int, output_size: int, num_layers: int) -> None:
    """Every size a positive integer; shared by both sides."""
    for name, value in [("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size),
                        ("num_layers", num_layers)]:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"RNNClassifier {name} must be a positive integer, e.g. 64; got {value!r}")


def init_recurrent(model: nn.Module, seed: int, uniform_fn=uniform, init_fn=init_linear) -> None:
    """torch's own reset, drawn from one generator seeded with ``seed``: every recurrent weight and bias
    ~ U(−1/√H, 1/√H) in ``named_parameters`` order, then the head's weight and bias ~ U(−1/√H, 1/√H)."""
    g = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(model.rnn.hidden_size)
    for p in model.rnn.parameters():
        uniform_fn(p, -bound, bound, generator=g)
    init_fn(model.fc.weight, model.fc.bias, "default", generator=g)


def as_sequence(x: Tensor) -> Tensor:
    """(N, T, D) as it is; (N, C, H, W) images as (N, C·H, W): rows are the time steps."""
    return x.flatten(1, 2) if x.ndim == 4 else x


class RNNClassifier(nn.Module):
    """``cell`` (``rnn`` or ``lstm``) over the sequence, ``num_layers`` stacked, then Linear(H, output_size)
    on the top layer's hidden state after the last step."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, cell: str = "rnn",
                 num_layers: int = 1, seed: int = 0):
        super().__init__()
        check_sizes(input_size, hidden_size, output_size, num_layers)
        self.cell = cell
        self.rnn = lookup(CELLS, cell, "cell")(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)
        init_recurrent(self, seed)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(as_sequence(x))  # (N, T, H): the top layer's state at every step
        return self.fc(out[:, -1])        # (N, output_size)
