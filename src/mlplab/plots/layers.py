"""Layer statistics as small multiples: one panel per statistic, layers along x in model order, one line per epoch.

Reads the rows of mlplab.training.inspect (``run.layers``, or a run folder's layers.csv). Vanishing gradients
show as a grad-norm line falling to the left; saturation and dead units as shares near 1; a healthy update
ratio sits near 1e-3 (dotted line). Epoch 0 (the init) is the lightest line, the last epoch the darkest. The
activation panels show the activation modules' outputs where the model has such modules, else the layers'.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from mlplab.plots.figures import save
from mlplab.training.callbacks import Callback

# (column, title, log scale): the weighted layers' three, then the activations' four
PANELS = (("weight_norm", "‖W‖", True), ("grad_norm", "‖∂ℓ/∂W‖", True), ("update_ratio", "‖ΔW‖/‖W‖ per step", True),
          ("act_mean", "activation mean", False), ("act_std", "activation std", False),
          ("saturated", "saturated share (tanh, sigmoid)", False), ("dead", "dead ReLU units", False))


MAX_LINES = 8  # epochs drawn per panel at most


def layers_figure(frame, title: str = "") -> Figure:
    """The statistics in ``frame`` (a DataFrame with mlplab.training.inspect.COLUMNS) as small multiples; panels
    whose column holds no number (no tanh layer: no saturation) are left out; of many epochs, ``MAX_LINES``
    evenly spaced ones are drawn."""
    panels = [p for p in PANELS if frame[p[0]].notna().any()]
    if not panels:
        raise ValueError("the layer statistics hold no numbers to draw (an empty layers.csv?)")
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.4 * cols, 2.8 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    epochs = sorted(frame["epoch"].unique())
    if len(epochs) > MAX_LINES:  # evenly spaced epochs, the first and the last among them
        epochs = [epochs[round(i * (len(epochs) - 1) / (MAX_LINES - 1))] for i in range(MAX_LINES)]
    cmap = colormaps["viridis_r"]
    for ax, (column, name, log) in zip(axes, panels):
        part = frame[frame[column].notna()]
        if column.startswith("act_") and part["weight_norm"].isna().any():  # activations: of the activation modules
            part = part[part["weight_norm"].isna()]
        labels = list(dict.fromkeys(f"{layer} {module}" for layer, module in zip(part["layer"], part["module"])))
        for k, epoch in enumerate(epochs):
            rows_e = part[part["epoch"] == epoch]
            if rows_e.empty:
                continue
            x = [labels.index(f"{layer} {module}") for layer, module in zip(rows_e["layer"], rows_e["module"])]
            color = cmap(0.15 + 0.85 * k / max(1, len(epochs) - 1))
            ax.plot(x, rows_e[column].clip(lower=1e-30) if log else rows_e[column], marker="o", ms=3, lw=1,
                    color=color, label=f"epoch {epoch}" if k in (0, len(epochs) - 1) else None)
        if log:
            ax.set_yscale("log")
        if column == "update_ratio":
            ax.axhline(1e-3, color="gray", ls=":", lw=1)
        if column in ("saturated", "dead"):
            ax.set_ylim(-0.03, 1.03)
        ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=6, ha="right")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def layers_png(frame, path: str | Path, title: str = "") -> Path:
    """``layers_figure`` written as a PNG."""
    return save(layers_figure(frame, title), path)


class LiveLayers(Callback):
    """A fit callback for a Jupyter notebook: the layer figure of ``inspector``'s rows (mlplab.training.inspect),
    one image updated in place through an IPython display handle, and once more at the end. It redraws at most
    every ``every`` seconds and spends at most a fifth of the time drawing (a draw takes ~1 s).
    ``mlplab.train(..., inspect=True)`` adds it where the learning curves show live."""

    def __init__(self, inspector, title: str = "layer statistics", every: float = 2.0):
        self.inspector, self.title, self.every = inspector, title, every
        self.handle, self.next = None, float("-inf")

    def on_train_begin(self, history, model, opt):
        from IPython.display import display

        self.handle = display({"text/plain": "(layer statistics appear after the first inspection)"}, raw=True,
                              display_id=True)
        self._draw(force=True)

    def on_epoch_end(self, epoch, history, model, opt):
        self._draw()

    def on_train_end(self, history, model):
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        import io
        import time

        from mlplab.training.inspect import layers_frame

        if not self.inspector.rows or (not force and time.perf_counter() < self.next):
            return
        start = time.perf_counter()
        buffer = io.BytesIO()
        layers_figure(layers_frame(self.inspector.rows), self.title).savefig(buffer, format="png", dpi=60,
                                                                             bbox_inches="tight")
        took = time.perf_counter() - start
        self.next = time.perf_counter() + max(self.every, 4 * took)
        self.handle.update({"image/png": buffer.getvalue(), "text/plain": f"layer statistics, epoch "
                            f"{self.inspector.rows[-1]['epoch']}"}, raw=True)
