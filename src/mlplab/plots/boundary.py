"""Decision boundaries of a model on 2-D inputs (TensorFlow Playground's view), as a figure or an animation.

``boundary_figure(run)``: the predicted probability over the plane, the 0.5 boundary (argmax regions for more
classes), the training points, and each first-layer hidden unit's own boundary, the line where its
pre-activation w·x + b is 0 (dotted; in the run's input units, so scaling bends nothing). ``BoundaryFrames``
is a fit callback that records the probability grid after every epoch; ``write_animation`` turns the frames
into a GIF (Pillow) or an MP4 (ffmpeg) through matplotlib's writers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from mlplab.training.callbacks import Callback

STEPS = 120          # grid points per axis
MAX_UNITS = 32       # hidden-unit lines drawn at most


def plane(x: np.ndarray, steps: int = STEPS, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (steps, steps) grid over ``x``'s range widened by ``margin``: (gx, gy, points (steps², 2) float32)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = (hi - lo) * margin
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], steps),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], steps))
    return gx, gy, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def check_2d(x: np.ndarray) -> None:
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"a decision boundary is drawn for 2-D inputs (N, 2); these have shape {tuple(x.shape)}; "
                         "try a playground set, e.g. mlplab.data.synthetic.playground('spiral')")


def probabilities(model: nn.Module, inputs: Tensor, loss: str) -> np.ndarray:
    """(M, C) class probabilities of the model's outputs for encoded ``inputs``, in eval mode, as Run's."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            param = next(model.parameters())
            out = model(inputs.to(param.device, param.dtype)).double().cpu()
    finally:
        model.train(was)
    if out.shape[1] == 1:  # binary: one score
        p = out[:, 0] if loss == "bce" else torch.sigmoid(out[:, 0])
        return torch.stack([1 - p, p], dim=1).numpy()
    return (out.exp() if loss == "nll" else torch.softmax(out, dim=1)).numpy()


def first_layer(model: nn.Module, inputs: Tensor) -> np.ndarray | None:
    """The outputs (M, H) of the model's first module that owns parameters (the first Linear), or None."""
    first = next((m for m in model.modules() if any(True for _ in m.parameters(recurse=False))), None)
    if first is None:
        return None
    seen = []
    handle = first.register_forward_hook(lambda m, i, out: seen.append(out.detach()))
    try:
        probabilities(model, inputs, "cross_entropy")
    finally:
        handle.remove()
    return seen[0].reshape(len(inputs), -1).double().cpu().numpy() if seen and seen[0].dim() == 2 else None


def draw(ax, gx, gy, proba: np.ndarray, x: np.ndarray | None = None, y: np.ndarray | None = None,
         units: np.ndarray | None = None) -> None:
    """Probability of class 1 (binary) or the argmax regions, the boundary, the points, the units' lines."""
    ax.clear()
    shape = gx.shape
    if proba.shape[1] == 2:
        ax.contourf(gx, gy, proba[:, 1].reshape(shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
        ax.contour(gx, gy, proba[:, 1].reshape(shape), levels=[0.5], colors="black", linewidths=1.5)
    else:
        ax.contourf(gx, gy, proba.argmax(1).reshape(shape), levels=np.arange(proba.shape[1] + 1) - 0.5,
                    cmap="tab10", alpha=0.45)
    if units is not None:
        for j in range(min(units.shape[1], MAX_UNITS)):
            z = units[:, j].reshape(shape)
            if z.min() < 0 < z.max():
                ax.contour(gx, gy, z, levels=[0.0], colors="black", linewidths=0.8, linestyles=":", alpha=0.6)
    if x is not None:
        cmap = "RdBu_r" if proba.shape[1] == 2 else "tab10"
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap=cmap, s=10, edgecolors="black", linewidths=0.3,
                   vmin=0, vmax=max(1, proba.shape[1] - 1))
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal")


def boundary_figure(run, x=None, y=None, hidden: bool = True, steps: int = STEPS) -> Figure:
    """The run's decision boundary over its training points (or ``x``, ``y``: raw rows and labels)."""
    from mlplab.training.losses import loss_for_task

    if x is None:
        if run.data is None:
            raise ValueError("this run holds no data (a loaded run): pass the points, run.plot_boundary(x, y)")
        x, y = run.data.x_train, run.data.y_train
    x = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
    check_2d(x)
    y = None if y is None else np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y).reshape(-1)
    gx, gy, points = plane(x, steps)
    inputs = run.schema.inputs(points)
    proba = probabilities(run.model, inputs, loss_for_task(run.config.loss, run.schema.task))
    units = first_layer(run.model, inputs) if hidden else None
    fig = Figure(figsize=(5.2, 5))
    ax = fig.subplots()
    draw(ax, gx, gy, proba, x, y, units)
    what = f"; dotted: the {min(units.shape[1], MAX_UNITS)} first-layer units' w·x+b=0" if units is not None else ""
    ax.set_title(f"{run.schema.name}: {'-'.join(map(str, run.config.hidden))} {','.join(run.config.activation)}"
                 f"{what}", fontsize=8)
    fig.tight_layout()
    return fig


class BoundaryFrames(Callback):
    """Records the probability grid over ``data``'s training points before training and after every
    ``every`` epochs; ``save(path)`` writes them as an animation (``write_animation``). With ``live`` (in a
    Jupyter notebook) the latest frame shows as one image updated in place through an IPython display handle."""

    def __init__(self, data, loss: str | None = None, *, every: int = 1, steps: int = 80, live: bool = False):
        from mlplab.training.losses import loss_for_task

        self.x = np.asarray(data.x_train, dtype=np.float64)
        check_2d(self.x)
        self.y = np.asarray(data.y_train).reshape(-1)
        self.gx, self.gy, points = plane(self.x, steps)
        self.inputs = data.encode(points)
        self.loss, self.every = loss_for_task(loss, data.task), every
        self.frames: list[tuple[int, np.ndarray]] = []
        self.live, self.handle = live, None

    def on_train_begin(self, history, model, opt):
        if self.live:
            from IPython.display import display

            self.handle = display({"text/plain": "(the decision boundary appears here)"}, raw=True, display_id=True)
        if not history.rows:
            self.record(0, model)

    def on_epoch_end(self, epoch, history, model, opt):
        if epoch % self.every == 0:
            self.record(epoch, model)

    def record(self, epoch: int, model: nn.Module) -> None:
        self.frames.append((epoch, probabilities(model, self.inputs, self.loss)))
        if self.handle is not None:
            import io

            fig = Figure(figsize=(3.6, 3.6))
            draw(fig.subplots(), self.gx, self.gy, self.frames[-1][1], self.x, self.y)
            fig.axes[0].set_title(f"epoch {epoch}", fontsize=9)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=60, bbox_inches="tight")
            self.handle.update({"image/png": buffer.getvalue(), "text/plain": f"decision boundary, epoch {epoch}"},
                               raw=True)

    def save(self, path: str | Path, fps: int = 5) -> Path:
        """The frames as ``path`` (.gif or .mp4), or as boundary.gif in ``path`` when it is a folder (a run's)."""
        path = Path(path)
        return write_animation(self, path / "boundary.gif" if path.is_dir() else path, fps)


def write_animation(frames: BoundaryFrames, path: str | Path, fps: int = 5) -> Path:
    """``frames`` as a GIF (.gif, Pillow) or MP4 (.mp4, ffmpeg on PATH), one frame per recorded epoch."""
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter

    path = Path(path)
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"the animation is written as .gif or .mp4; got {str(path)!r}")
    if path.suffix.lower() == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError("an .mp4 needs ffmpeg on PATH; install it or write a .gif")
    if not frames.frames:
        raise ValueError("no frames recorded: pass the BoundaryFrames to training as a callback first")
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()

    def show(k):
        epoch, proba = frames.frames[k]
        draw(ax, frames.gx, frames.gy, proba, frames.x, frames.y)
        ax.set_title(f"epoch {epoch}", fontsize=9)

    animation = FuncAnimation(fig, show, frames=len(frames.frames))
    writer = PillowWriter(fps=fps) if path.suffix.lower() == ".gif" else FFMpegWriter(fps=fps)
    animation.save(str(path), writer=writer, dpi=80)
    return path
