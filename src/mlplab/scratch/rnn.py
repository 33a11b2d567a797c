"""RNN and LSTM from scratch: the cell equations looped over time; the same classifier as
``mlplab.models.rnn.RNNClassifier``.

Parameters keep torch's names, shapes and two-bias layout (``weight_ih_l0`` (G·H, D), ``weight_hh_l0``
(G·H, H), ``bias_ih_l0``, ``bias_hh_l0``; G = 1 for the RNN, 4 for the LSTM's gates i, f, g, o in that order),
so ``scratch.load_state_dict(torch_model.state_dict())`` works and the same seed draws the same weights.
Inputs are batch first, (N, T, D), as the classifier uses torch's.

>>> h, c = lstm_cell(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)),
...                  torch.zeros(16, 3), torch.zeros(16, 4), torch.zeros(16), torch.zeros(16))
>>> h.shape, c.shape
(torch.Size([2, 4]), torch.Size([2, 4]))
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlplab.models.rnn import as_sequence, check_sizes, init_recurrent
from mlplab.registry import lookup
from mlplab.scratch.activations import sigmoid, tanh
from mlplab.scratch.cnn import Linear
from mlplab.scratch.init import init_linear, uniform


def rnn_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (Elman, 1990). x (N, D), h (N, H) → (N, H)."""
    return tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor,
              b_hh: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM step (Hochreiter & Schmidhuber, 1997; forget gate: Gers et al., 2000):

        i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi)     input gate
        f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf)     forget gate
        g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)  candidate cell
        o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho)     output gate
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')

    The four W_i· are stacked row-wise in ``w_ih`` (4H, D), in torch's order i, f, g, o; likewise the rest.
    """
    h, c = state                                           # (N, H), (N, H)
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh          # (N, 4H)
    i, f, g, o = gates.chunk(4, dim=1)                     # each (N, H)
    i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    c = f * c + i * g                                      # (N, H)
    return o * tanh(c), c


class RNN(nn.Module):
    """A stack of ``num_layers`` tanh RNN layers over (N, T, D); returns (out (N, T, H), h_n (L, N, H))."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        g = self.gates * hidden_size
        for layer in range(num_layers):
            d = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(g, d)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(g, hidden_size)))
            self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(g)))
            self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(g)))

    def weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return tuple(getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def step(self, x: Tensor, state, layer: int):
        """One time step of one layer: the new state, h (N, H) here, (h, c) for the LSTM."""
        return rnn_cell(x, state, *self.weights(layer))

    def forward(self, x: Tensor):                          # (N, T, D)
        n, steps = x.shape[0], x.shape[1]
        zeros = x.new_zeros(n, self.hidden_size)           # (N, H): every layer starts from h = 0 (and c = 0)
        finals = []
        for layer in range(self.num_layers):
            state = zeros if self.gates == 1 else (zeros, zeros)
            outputs = []
            for t in range(steps):
                state = self.step(x[:, t], state, layer)
                outputs.append(state if self.gates == 1 else state[0])
            x = torch.stack(outputs, dim=1)                # (N, T, H): the next layer's input
            finals.append(state)
        if self.gates == 1:
            return x, torch.stack(finals)                  # (N, T, H), (L, N, H)
        return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"


class LSTM(RNN):
    """A stack of LSTM layers over (N, T, D); returns (out (N, T, H), (h_n, c_n) each (L, N, H))."""

    gates = 4

    def step(self, x: Tensor, state, layer: int):
        return lstm_cell(x, state, *self.weights(layer))


CELLS = {"rnn": RNN, "lstm": LSTM}


class RNNClassifier(nn.Module):
    """``cell`` (``rnn`` or ``lstm``) over the sequence, then Linear(H, output_size) on the top layer's last h.

    >>> RNNClassifier(28, 8, 10, cell="lstm", num_layers=2)(torch.zeros(3, 28, 28)).shape
    torch.Size([3, 10])
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, cell: str = "rnn",
                 num_layers: int = 1, seed: int = 0):
        super().__init__()
        check_sizes(input_size, hidden_size, output_size, num_layers)
        self.cell = cell
        self.rnn = lookup(CELLS, cell, "cell")(input_size, hidden_size, num_layers=num_layers)
        self.fc = Linear(hidden_size, output_size)
        init_recurrent(self, seed, uniform, init_linear)  # torch's draw order, from the scratch init functions

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(as_sequence(x))  # (N, T, H)
        return self.fc(out[:, -1])        # (N, output_size)
