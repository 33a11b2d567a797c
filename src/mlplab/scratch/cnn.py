"""The CNN from scratch: convolution as im2col + one matrix product, pooling over the same patches, batch norm
written out; the same spec, presets and constructor as ``mlplab.models.cnn.CNN``.

Every layer keeps torch's parameter names, shapes and buffers (conv weight (C_out, C_in, K, K), Linear weight
(out, in), batch norm's running_mean/running_var/num_batches_tracked), so
``scratch_cnn.load_state_dict(torch_cnn.state_dict())`` works and the same seed gives the same weights.

>>> x = torch.arange(16.).reshape(1, 1, 4, 4)
>>> max_pool2d(x, 2).flatten().tolist()
[5.0, 7.0, 13.0, 15.0]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlplab.models.cnn import build, init_weights, plan
from mlplab.scratch.activations import Activation
from mlplab.scratch.dropout import Dropout
from mlplab.scratch.init import init_linear
from mlplab.scratch.mlp import Flatten


def patches(x: Tensor, k: int, stride: int = 1, padding: int = 0, fill: float = 0.0) -> Tensor:
    """im2col: every K×K window of ``x``, padded by ``padding`` with ``fill``, ``stride`` apart.

    (N, C, H, W) → (N, C, H', W', K, K), H' = ⌊(H + 2P − K) / S⌋ + 1; a view, no copy, before the padding.
    """
    if padding:
        x = F.pad(x, (padding,) * 4, value=fill)         # (N, C, H + 2P, W + 2P)
    return x.unfold(2, k, stride).unfold(3, k, stride)   # (N, C, H', W', K, K)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int = 1, padding: int = 0) -> Tensor:
    """y[n, o, i, j] = Σ_{c, u, v} x_pad[n, c, S·i + u, S·j + v] · w[o, c, u, v] + b[o] (cross-correlation).

    Written as im2col: each output pixel's window becomes a row of C·K·K numbers, then ONE matrix product
    with the weight as a (C·K·K, C_out) matrix.
    """
    n, (c_out, c_in, k, _) = x.shape[0], weight.shape
    cols = patches(x, k, stride, padding)                        # (N, C_in, H', W', K, K)
    h, w = cols.shape[2], cols.shape[3]
    rows = cols.permute(0, 2, 3, 1, 4, 5).reshape(n * h * w, c_in * k * k)  # (N·H'·W', C_in·K·K)
    out = rows @ weight.reshape(c_out, c_in * k * k).T          # (N·H'·W', C_out)
    if bias is not None:
        out = out + bias
    return out.reshape(n, h, w, c_out).permute(0, 3, 1, 2)     # (N, C_out, H', W')


def max_pool2d(x: Tensor, k: int, stride: int | None = None, padding: int = 0) -> Tensor:
    """The largest value in each K×K window (padding with −∞, so it never wins)."""
    return patches(x, k, stride or k, padding, fill=-math.inf).amax(dim=(-2, -1))  # (N, C, H', W')


def avg_pool2d(x: Tensor, k: int, stride: int | None = None, padding: int = 0) -> Tensor:
    """The mean of each K×K window; padded zeros count, as torch's default ``count_include_pad=True``."""
    return patches(x, k, stride or k, padding).mean(dim=(-2, -1))  # (N, C, H', W')


def batch_norm2d(x: Tensor, mean: Tensor, var: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """y = γ · (x − μ) / √(σ² + ε) + β, per channel (Ioffe & Szegedy, 2015)."""
    shape = (1, -1, 1, 1)
    return weight.view(shape) * (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps) + bias.view(shape)


class Conv2d(nn.Module):
    """Conv2d with torch's signature and parameters: weight (C_out, C_in, K, K), bias (C_out,)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, k, _ = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(nn.Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class BatchNorm2d(nn.Module):
    """Batch norm over (N, H, W) for each channel, with torch's parameters and buffers.

    Training: normalise by the batch's mean and biased variance (÷ m, m = N·H·W), and update the running
    statistics r ← (1 − momentum) · r + momentum · batch, the variance unbiased there (÷ (m − 1)).
    Evaluation: normalise by the running statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))   # γ
        self.bias = nn.Parameter(torch.zeros(num_features))    # β
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:                  # (N, C, H, W)
        if not self.training:
            return batch_norm2d(x, self.running_mean, self.running_var, self.weight, self.bias, self.eps)
        m = x.numel() // x.shape[1]
        mean = x.mean(dim=(0, 2, 3))                          # (C,)
        var = ((x - mean.view(1, -1, 1, 1)) ** 2).mean(dim=(0, 2, 3))  # (C,), biased: ÷ m
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * m / (m - 1))
            self.num_batches_tracked += 1
        return batch_norm2d(x, mean, var, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}, momentum={self.momentum}"


class Linear(nn.Module):
    """y = x Wᵀ + b with torch's layout, W (out, in), so a CNN's state_dict loads on either side.

    (``mlplab.scratch.mlp.Linear`` keeps W as (in, out) to read X @ W; the CNN keeps torch's names instead.)
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.T + self.bias                  # (N, in) @ (in, out) → (N, out)

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}"


LAYERS = {"conv": Conv2d, "maxpool": MaxPool2d, "avgpool": AvgPool2d, "bn": BatchNorm2d,
          "flatten": Flatten, "fc": Linear, "dropout": Dropout, "act": Activation}


class CNN(nn.Sequential):
    """A convolutional network from a spec or preset, built from the scratch layers above.

    >>> [type(m).__name__ for m in CNN((8, 8), 3, spec="conv:2:3,bn,relu,maxpool:2")]
    ['Conv2d', 'BatchNorm2d', 'Activation', 'MaxPool2d', 'Flatten', 'Linear']
    """

    def __init__(self, input_shape: tuple[int, ...], output_size: int, *, spec: str, init: str = "default",
                 seed: int = 0):
        layers = plan(input_shape, output_size, spec)
        super().__init__(*build(layers, LAYERS))
        self.plan = layers
        init_weights(self, init, seed, init_linear)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)    # (N, H, W) → (N, 1, H, W)
        return super().forward(x)  # (N, output_size)
