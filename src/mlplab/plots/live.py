"""Training shown live in a Jupyter notebook: the learning curves redrawn in place after every epoch (one
figure, as d2l's Animator) below a progress bar that also moves within an epoch (rate, time left), through
IPython display handles."""

from __future__ import annotations

import io
import sys
import time

from mlplab.plots.figures import draw_curves, subplots
from mlplab.training.callbacks import Callback
from mlplab.training.progress import Pace, format_row


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (where display handles update outputs in place)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LiveCurves(Callback):
    """A fit callback: after each epoch, the curves so far (one image, updated) and a progress bar (one line)."""

    def __init__(self, epochs: int, classify: bool, title: str = "", every: float = 0.5):
        self.epochs, self.classify, self.title = epochs, classify, title
        self.image = self.bar = self.history = None
        self.pace, self.every, self.next_draw = Pace(epochs), every, 0.0

    def on_train_begin(self, history, model, opt):
        from IPython.display import display

        self.history, self.next_draw = history, time.perf_counter() + self.every
        self.fig, axes = subplots(1, 2 if self.classify else 1, figsize=(10 if self.classify else 5.5, 3.6),
                                  squeeze=False)
        self.axes = axes[0]
        if self.title:
            self.fig.suptitle(self.title, fontsize=10)
        self.bar = display(self._bar(history), raw=True, display_id=True)
        self.image = display({"text/plain": "(learning curves appear after the first epoch)"}, raw=True,
                             display_id=True)
        if history.rows:
            self._draw(history)

    def _bar(self, history, within: str = "") -> dict:
        """The run's bar (epochs, and the batches of the current one) above the last epoch's numbers."""
        pace = self.pace
        done = len(history.rows) + (pace.batch / pace.batches if within and pace.batches else 0)
        line = format_row(history.rows[-1], self.epochs) if history.rows else "starting"
        html = (f'<progress value="{done:.3f}" max="{self.epochs}" style="width:30em"></progress> '
                f'<code>{within}</code><br><code>{line}</code>')
        return {"text/html": html, "text/plain": f"{within}\n{line}" if within else line}

    def on_batch_end(self, epoch, batch, batches):
        """Within an epoch: the bar moves, with the batch rate and the time left (redrawn at most every 0.5 s)."""
        now = time.perf_counter()
        if now < self.next_draw and batch != 1:
            return
        self.pace.at(epoch, batch, batches)
        if now >= self.next_draw and self.history is not None:
            self.next_draw = now + self.every
            self.bar.update(self._bar(self.history, self.pace.text()), raw=True)

    def _draw(self, history) -> None:
        draw_curves(self.axes, history)
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        self.image.update({"image/png": buffer.getvalue(), "text/plain": f"learning curves, epoch "
                           f"{history.rows[-1]['epoch']}"}, raw=True)

    def on_epoch_end(self, epoch, history, model, opt):
        self._draw(history)
        self.bar.update(self._bar(history), raw=True)

    def on_train_end(self, history, model):
        if history.rows:
            self._draw(history)  # with the best epoch marked, when early stopping chose one
