"""Figures: learning curves, a gallery of predictions, a confusion matrix, overlays of many runs, the activations.

Every figure is a plain ``matplotlib.figure.Figure``, made without pyplot: mlplab never chooses or changes
matplotlib's backend (not on import, not in the CLI). Files are written by Agg directly (``save``); a Figure
returned to a notebook shows inline there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:  # types only: History draws itself through this module (History.plot); torch is imported by
    import torch  # the figures that need it, so a table run's worker process draws without it
    from torch import nn

    from mlplab.training.history import History


def subplots(*args, **kwargs):
    """``(fig, axes)`` as ``pyplot.subplots`` gives them, on a Figure pyplot does not manage."""
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(*args, **kwargs)


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG atomically (the Agg renderer, whatever the session's backend)."""
    from mlplab.runs.rundir import atomic_write

    atomic_write(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png"))
    return Path(path)


def draw(jobs) -> None:
    """Save each ``(name of a figure function here, its arguments, file)`` as a PNG (mlplab.runs.run.figure_jobs)."""
    for name, args, path in jobs:
        save(globals()[name](*args), path)


def epoch_axis(ax) -> None:
    """Whole epochs on the x axis (no 2.5-epoch ticks)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


def draw_curves(axes, history: History) -> None:
    """Loss (and accuracy) per epoch for every split into ``axes``; the best epoch marked when there is one."""
    epochs = history.column("epoch")
    styles = {"train": "-", "val": "--", "test": ":"}
    for ax, metric in zip(axes, ["loss", "accuracy"]):
        ax.clear()
        for split, style in styles.items():
            values = history.column(f"{split}_{metric}")
            if values:
                ax.plot(epochs[-len(values):], values, style, marker="o", ms=3, label=f"{split} {metric}")
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="gray", lw=0.8, ls="-.", label=f"best epoch {history.best_epoch}")
        epoch_axis(ax)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


def curves_figure(history: History, title: str = "") -> Figure:
    """Loss per epoch (train, validation, test) and, for classification, accuracy per epoch."""
    has_acc = bool(history.column("train_accuracy"))
    fig, axes = subplots(1, 2 if has_acc else 1, figsize=(10 if has_acc else 5.5, 3.8), squeeze=False)
    draw_curves(axes[0], history)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def learning_curves(history: History, path: str | Path, title: str = "") -> Path:
    return save(curves_figure(history, title), path)


def predictions_figure(pictures, true, predicted, class_names, image_shape: tuple[int, int], cols: int = 6,
                       title: str = "test images: true / predicted (mistakes in red)") -> Figure:
    """Images titled "true / predicted" by class name; mistakes in red with a red frame.

    ``pictures`` (N, ...) are drawn as ``image_shape`` (the rows as given, not standardised: standardised pixels,
    each scaled by its own spread, look like noise); ``true`` and ``predicted`` are class indices."""
    import numpy as np

    rows = max(1, (len(pictures) + cols - 1) // cols)
    fig, axes = subplots(rows, cols, figsize=(1.7 * cols, 2.0 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, y, p in zip(axes.flat, pictures, list(true), list(predicted)):
        wrong = y != p
        ax.imshow(np.asarray(img.cpu() if hasattr(img, "cpu") else img).reshape(image_shape), cmap="gray_r")
        ax.set_title(f"{class_names[y]}\n{class_names[p]}", fontsize=8, color="red" if wrong else "black")
        if wrong:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2)
    fig.suptitle(title, fontsize=10)
    return fig


def gallery(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, class_names, path: str | Path,
            image_shape: tuple[int, int], n: int = 18, cols: int = 6, show=None) -> Path:
    """``predictions_figure`` of the model's predictions for the first ``n`` ``images`` (its inputs), as a PNG.

    ``show`` maps the model's inputs to what to draw (e.g. ``Dataset.unstandardize``)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    images, labels = images[:n], labels[:n]
    with torch.no_grad():
        preds = model(images.to(device)).argmax(dim=1).cpu()
    pictures = (images if show is None else show(images)).cpu()
    return save(predictions_figure(pictures, labels.tolist(), preds.tolist(), class_names, image_shape, cols), path)


def confusion_figure(cm, names, title: str = "") -> Figure:
    """A confusion matrix (rows: true class, columns: predicted) with its counts, by class name.

    At least 4 × 3.6 inches, so two classes still leave room for the title (wrapped when long)."""
    import textwrap

    import numpy as np

    cm = np.asarray(cm)
    k = len(names)
    fig, ax = subplots(figsize=(max(4.0, 1.6 + 0.6 * k), max(3.6, 1.4 + 0.6 * k)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), [str(n) for n in names], rotation=45 if k > 2 else 0, ha="right" if k > 2 else "center")
    ax.set_yticks(range(k), [str(n) for n in names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=9)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    fig.tight_layout()
    return fig


def overlay(curves: dict[str, list[list[float]]], metric: str, path: str | Path, title: str = "",
            band: str = "minmax") -> Path:
    """One curve per label: the mean over its runs, with a band (``minmax`` or ``std``) when there are several.

    ``curves[label]`` holds one list of per-epoch values per run (seeds or folds); runs may differ in length
    only if they stopped early, so each curve uses the epochs all its runs reached.
    """
    import numpy as np

    if band not in ("minmax", "std"):
        raise ValueError(f"band must be 'minmax' or 'std'; got {band!r}")
    fig, ax = subplots(figsize=(6.4, 4.2))
    for name, runs in curves.items():
        n = min(len(r) for r in runs)
        values = np.array([r[:n] for r in runs], dtype=float)          # (runs, epochs)
        epochs = np.arange(1, n + 1)
        mean = values.mean(axis=0)
        (line,) = ax.plot(epochs, mean, label=name, lw=1.6)
        if len(runs) > 1:
            lo, hi = ((values.min(0), values.max(0)) if band == "minmax"
                      else (mean - values.std(0, ddof=1), mean + values.std(0, ddof=1)))
            ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if metric.endswith("loss") and all(v > 0 for runs in curves.values() for r in runs for v in r):
        ax.set_yscale("log")
    epoch_axis(ax)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)


def activations(path: str | Path, impl: str = "torch", lo: float = -4.0, hi: float = 4.0) -> Path:
    """``activations_figure`` as a PNG at ``path``."""
    return save(activations_figure(impl, lo, hi), path)


def activations_figure(impl: str = "torch", lo: float = -4.0, hi: float = 4.0) -> Figure:
    """Each elementwise activation beside its derivative (by autograd); softmax on a sample batch of logits."""
    import torch

    from mlplab.registry import impl_module

    registry = impl_module(impl, "activations").ACTIVATIONS
    elementwise = [name for name in registry if name != "softmax"]
    cols = 6
    rows = -(-(2 * len(elementwise) + 2) // cols)
    fig, axes = subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False)
    panels = iter(axes.flat)
    for name in elementwise:
        x = torch.linspace(lo, hi, 801, dtype=torch.float64, requires_grad=True)
        y = registry[name](x)
        (grad,) = torch.autograd.grad(y.sum(), x)  # elementwise, so d(Σy)/dx_i = f'(x_i)
        for ax, values, label in ((next(panels), y, name), (next(panels), grad, f"d {name} / dx")):
            ax.plot(x.detach(), values.detach(), color="C0" if values is y else "C1")
            ax.axhline(0, color="gray", lw=0.5)
            ax.axvline(0, color="gray", lw=0.5)
            ax.set_title(label, fontsize=9)
            ax.grid(alpha=0.3)
    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)) * 2  # (batch 6, classes 5)
    for ax, values, label in ((next(panels), logits, "sample logits (6 × 5)"),
                              (next(panels), registry["softmax"](logits, dim=1), "softmax(dim=1): rows sum to 1")):
        image = ax.imshow(values, cmap="viridis")
        fig.colorbar(image, ax=ax, fraction=0.046)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("class")
        ax.set_ylabel("sample")
    for ax in panels:
        ax.axis("off")
    fig.suptitle(f"activations ({impl}) and their derivatives by autograd", fontsize=11)
    fig.tight_layout()
    return fig
