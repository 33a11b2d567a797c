"""The per-epoch record of a run: one row per epoch, as Keras' ``History`` and d2l's curves show it."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class History:
    """One row per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_*``/``test_*``, ``seconds``.

    ``best_epoch`` and ``stopped_epoch`` are set by early stopping (mlplab.training.callbacks.EarlyStopping):
    the epoch whose weights the model holds after training, and the epoch after which training stopped.
    ``backprop`` and ``backprop_reason``: the path fit's steps took, and why; ``memory_format`` and
    ``memory_format_reason``: the layout of the model's 4-d weights, and why. The weights a run carries between
    epochs (early stopping's best, weight averaging's) are not the record: mlplab.training.state.TrainState.

    >>> h = History([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.25}])
    >>> h.column("train_loss"), h.final["epoch"]
    ([0.5, 0.25], 2)
    """

    rows: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    backprop: str | None = None
    backprop_reason: str | None = None
    memory_format: str | None = None
    memory_format_reason: str | None = None

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(k for row in self.rows for k in row))

    @property
    def final(self) -> dict:
        """The row of the epoch whose weights the model ends with: the best one after early stopping."""
        if self.best_epoch is not None:
            return next(dict(r) for r in self.rows if r["epoch"] == self.best_epoch)
        return dict(self.rows[-1]) if self.rows else {}

    def shown_rows(self, head: int = 1, tail: int = 3) -> list[dict | None]:
        """The first ``head`` and last ``tail`` rows, with None where rows are left out."""
        if len(self.rows) <= head + tail + 1:
            return list(self.rows)
        return self.rows[:head] + [None] + self.rows[-tail:]

    def summary(self) -> str:
        """``History: 10 epochs`` with the best epoch, when early stopping chose one."""
        n = len(self.rows)
        best = f", best epoch {self.best_epoch}" if self.best_epoch is not None else ""
        stopped = f", stopped after {self.stopped_epoch}" if self.stopped_epoch is not None else ""
        return f"History: {n} epoch{'s' * (n != 1)}{best}{stopped}"

    def __repr__(self) -> str:  # a few rows, not every one
        def line(row):
            return "  ..." if row is None else "  " + "  ".join(
                f"epoch {v}" if k == "epoch" else f"{k} {v:.4g}" for k, v in row.items() if k != "seconds")
        return "\n".join([self.summary(), *map(line, self.shown_rows())])

    def _repr_html_(self) -> str:
        columns = [c for c in self.columns if c != "seconds"]

        def cell(row, c):
            if row is None or c not in row:
                return "<td>…</td>" if row is None else "<td></td>"
            return f"<td>{row[c] if c == 'epoch' else format(row[c], '.4g')}</td>"
        head = "".join(f"<th>{c}</th>" for c in columns)
        body = "".join("<tr>" + "".join(cell(row, c) for c in columns) + "</tr>" for row in self.shown_rows())
        return (f"<div><b>{self.summary()}</b> (all rows: <code>.rows</code>, <code>.to_pandas()</code>)"
                f"<table><tr>{head}</tr>{body}</table></div>")

    def to_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        with open(path, newline="") as f:
            rows = [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(f)]
        return cls(rows)

    def to_pandas(self):
        """The rows as a pandas DataFrame indexed by epoch (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("History.to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows).set_index("epoch")

    def plot(self, title: str = ""):
        """Loss (and accuracy) per epoch as a matplotlib Figure; in a notebook it shows inline."""
        from mlplab.plots.display import inline
        from mlplab.plots.figures import curves_figure

        return inline(curves_figure(self, title=title))
