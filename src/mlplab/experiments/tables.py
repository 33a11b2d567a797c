"""Tables of final metrics: mean ± std over runs, as markdown for reading and CSV for tools.

The std is the sample standard deviation (ddof=1), 0 for a single run, as the spread between seeds or folds.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

SKIP = ("epoch", "seconds", "parameters", "device")  # bookkeeping, not results to average


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample std) of ``values``; std is 0 for one value.

    >>> mean_std([1.0, 2.0, 3.0])
    (2.0, 1.0)
    """
    n = len(values)
    if n == 0:
        raise ValueError("mean_std needs at least one value")
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def metric_keys(metrics: Sequence[dict]) -> list[str]:
    """The numeric result keys the runs share, in first-seen order (losses and accuracies, train_seconds)."""
    keys = [k for k, v in metrics[0].items() if k not in SKIP and isinstance(v, (int, float))
            and not isinstance(v, bool)]
    return [k for k in keys if all(k in m for m in metrics)]


def aggregate(metrics: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """{key: (mean, std)} over the runs' final metrics."""
    return {k: mean_std([m[k] for m in metrics]) for k in metric_keys(metrics)}


def fmt(mean: float, std: float, digits: int = 4) -> str:
    """``0.9512 ± 0.0031``."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub-style markdown table; floats with 4 decimals."""
    cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """The same table as CSV (numbers at full precision)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def summary_rows(labels: Sequence[dict], groups: Sequence[Sequence[dict]]) -> tuple[list, list, list, list]:
    """Header and rows for a table with one row per group of runs (a setting, over seeds or folds).

    ``labels[i]`` holds the row's identifying columns (e.g. ``{"optimizer": "adam", "lr": 0.1}``);
    ``groups[i]`` the final metrics of its runs. Returns (md_header, md_rows, csv_header, csv_rows): the
    markdown cells read ``mean ± std``; the CSV has separate ``_mean`` and ``_std`` columns.
    """
    keys = metric_keys([m for group in groups for m in group])
    label_keys = list(dict.fromkeys(k for label in labels for k in label))
    md_header = [*label_keys, "runs", *keys]
    csv_header = [*label_keys, "runs", *(f"{k}_{s}" for k in keys for s in ("mean", "std"))]
    md_rows, csv_rows = [], []
    for label, group in zip(labels, groups):
        stats = aggregate(group)
        ident = [label.get(k, "") for k in label_keys]
        md_rows.append([*ident, len(group), *(fmt(*stats[k]) for k in keys)])
        csv_rows.append([*ident, len(group), *(v for k in keys for v in stats[k])])
    return md_header, md_rows, csv_header, csv_rows
