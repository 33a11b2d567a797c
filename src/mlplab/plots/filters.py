"""What a CNN's first layer learned: its kernels as small images, and what they make of one test image.

A conv layer's kernel (C_in, K, K) is slid over the image; where the image looks like the kernel the output is
large. So the kernels show the local patterns the layer looks for (edges, blobs, stripes), and the feature maps
(the first conv's output, one (H', W') map per output channel, before any activation) show where in the image
each pattern is found.

>>> from mlplab.models.cnn import CNN
>>> fig = filters_figure(CNN((8, 8), 3, spec="conv:4:3,relu"), torch.rand(8, 8))
>>> sum(len(ax.images) for ax in fig.axes)  # 4 kernels, the input, 4 feature maps
9
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from mlplab.plots.figures import save


def first_conv(model: nn.Module) -> int:
    """The index of the first conv layer of an mlplab CNN (torch or scratch: both carry the ``plan``)."""
    kinds = [layer.kind for layer in getattr(model, "plan", [])]
    if not isinstance(model, nn.Sequential) or "conv" not in kinds:
        raise ValueError(f"plot filters needs a CNN (a run trained with --model cnn or lenet); this model is a "
                         f"{type(model).__name__}, which has no conv layer")
    return kinds.index("conv")


@torch.no_grad()
def first_feature_maps(model: nn.Module, image: Tensor) -> Tensor:
    """The first conv layer's output (C_out, H', W') for one ``image`` (H, W) or (C, H, W), in eval mode."""
    index = first_conv(model)
    model.eval()
    x = image.reshape(1, 1, *image.shape) if image.ndim == 2 else image.unsqueeze(0)  # (1, C, H, W)
    x = x.to(next(model.parameters()).device)
    for layer in list(model)[: index + 1]:  # any layers before it (e.g. bn), then the conv itself
        x = layer(x)
    return x[0].cpu()                        # (C_out, H', W')


def _grid(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def filters_figure(model: nn.Module, image: Tensor, title: str = "") -> Figure:
    """Top: every kernel of the first conv layer (red positive, blue negative, one shared scale; averaged over
    the input channels when there are several). Bottom: the image and each channel's feature map."""
    conv = model[first_conv(model)]
    weight = conv.weight.detach().cpu()      # (C_out, C_in, K, K)
    kernels = weight.mean(dim=1)             # (C_out, K, K)
    maps = first_feature_maps(model, image)  # (C_out, H', W')
    n = len(kernels)
    rows, cols = _grid(n)
    fig = Figure(figsize=(1.5 * (cols + 1), 1.6 * (2 * rows) + 0.9))
    top, bottom = fig.subfigures(2, 1)
    scale = kernels.abs().max().item() or 1.0
    axes = top.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            shown = ax.imshow(kernels[i].numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(f"{i}", fontsize=7)
    top.colorbar(shown, ax=axes, fraction=0.02)
    top.suptitle(f"first conv layer: {n} kernels {tuple(weight.shape[2:])}"
                 + (f", mean over {weight.shape[1]} input channels" if weight.shape[1] > 1 else ""), fontsize=9)
    axes = bottom.subplots(rows, cols + 1, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    picture = image if image.ndim == 2 else image.mean(dim=0)
    axes[0, 0].imshow(picture.cpu().numpy(), cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=7)
    for i in range(n):
        ax = axes[i // cols, 1 + i % cols]
        ax.imshow(maps[i].numpy(), cmap="viridis")   # each map on its own scale: where the pattern is, not how strongly
        ax.set_title(f"{i}", fontsize=7)
    bottom.suptitle("its feature maps for this image (before the activation; each on its own colour scale)",
                    fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10, y=1.02)
    return fig


def filters(model: nn.Module, image: Tensor, path, title: str = ""):
    """Write ``filters_figure`` as a PNG at ``path``."""
    return save(filters_figure(model, image, title), path)



def weights_figure(model: nn.Module, image_shape: tuple[int, int] | None = None, n: int = 16,
                   title: str = "") -> Figure:
    """What the weights look like after training.

    A CNN: its first conv layer's kernels (red positive, blue negative, one shared scale). An MLP on images: the
    input weights of its first ``n`` hidden units, each drawn as an image (the pattern the unit responds to).
    Otherwise: the distribution of each weight matrix, one histogram per layer.
    """
    matrices = [(name, p.detach().float().cpu()) for name, p in model.named_parameters() if p.ndim >= 2]
    if not matrices:
        raise ValueError(f"plot_weights needs a model with weight matrices; {type(model).__name__} has none")
    kinds = [layer.kind for layer in getattr(model, "plan", [])]
    first = matrices[0][1]
    if "conv" in kinds and first.ndim == 4:
        shown, what = first.mean(dim=1)[:32], f"first conv layer: kernels {tuple(first.shape[2:])}"  # (C_out, K, K)
    elif image_shape and first.ndim == 2 and first.shape[1] == math.prod(image_shape):
        shown, what = first[:n].reshape(-1, *image_shape), "first layer: each unit's input weights as an image"
    else:
        cols = min(len(matrices), 4)
        rows = math.ceil(len(matrices) / cols)
        fig = Figure(figsize=(3.2 * cols, 2.6 * rows + 0.4))
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat[len(matrices):]:
            ax.axis("off")
        for ax, (name, w) in zip(axes.flat, matrices):
            ax.hist(w.flatten().numpy(), bins=40, color="C0")
            ax.set_title(f"{name} {tuple(w.shape)}\nstd {w.std().item():.3g}", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.suptitle(title or "weights per layer", fontsize=10)
        fig.tight_layout()
        return fig
    rows, cols = _grid(len(shown))
    fig = Figure(figsize=(1.3 * cols + 0.8, 1.4 * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    scale = shown.abs().max().item() or 1.0
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(shown):
            image = ax.imshow(shown[i].numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(f"{i}", fontsize=7)
    fig.colorbar(image, ax=axes, fraction=0.02)
    fig.suptitle(f"{title}: {what}" if title else what, fontsize=9)
    return fig
