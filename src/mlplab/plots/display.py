"""A Run as a notebook shows it: a few lines of text or HTML, and its figures by class name.

``Run.__repr__``/``_repr_html_`` and ``Run.plot_*`` call these. Each figure is a plain matplotlib Figure (not
one pyplot manages, so a notebook shows it once, as the cell's value); ``inline`` loads Jupyter's inline backend
when it is the session's, so the Figure a cell returns shows. The run folder's PNGs are these same figures.
"""

from __future__ import annotations

import html

import numpy as np
import torch

from mlplab.plots import figures


def inline(fig):
    """``fig``, after making sure a Jupyter kernel shows a Figure returned by a cell: when the session's backend
    is the inline one (Jupyter's default), load it, which registers its display of Figures (pyplot's import
    alone no longer loads a backend). Another backend, or no IPython at all: nothing is touched."""
    import sys

    if "IPython" in sys.modules:
        import importlib

        import matplotlib

        try:  # without choosing a backend where none is chosen yet
            backend = matplotlib.get_backend(auto_select=False)
        except TypeError:  # matplotlib < 3.10
            backend = matplotlib.rcParams._get("backend")
        if backend == "inline" or (backend or "").endswith("backend_inline"):  # also ipykernel's older one
            importlib.import_module(backend.removeprefix("module://") if backend.startswith("module://")
                                    else "matplotlib_inline.backend_inline")
    return fig


def headline(run) -> list[str]:
    """The run's key numbers: its final epoch's test (else val, else train) metrics, then table extras."""
    final = run.history.final or {k: v for k, v in run.metrics.items() if isinstance(v, float)}
    split = next((s for s in ("test", "val", "train") if f"{s}_loss" in final), None)
    keys = [k for k in final if split and k.startswith(f"{split}_")]
    keys += [k for k in ("test_roc_auc", "test_balanced_accuracy", "test_rmse", "test_r2")
             if isinstance(run.metrics.get(k), float) and k not in keys]
    return [f"{k} {final.get(k, run.metrics.get(k)):.4g}" for k in keys]


def facts(run) -> list[str]:
    m = run.metrics
    epochs = len(run.history.rows)
    lines = [f"{epochs} epoch{'s' * (epochs != 1)}" + (f" (best {run.history.best_epoch})"
                                                    if run.history.best_epoch else "")]
    if "parameters" in m:
        lines.append(f"{m['parameters']:,} parameters")
    if "train_seconds" in m:
        lines.append(f"{m['train_seconds']:.{1 if m['train_seconds'] >= 1 else 2}f} s on {m.get('device', '?')}")
    return lines


def where(run) -> str:
    return f"saved in {run.path}" if run.path is not None else "not saved (run.save(folder) writes it)"


def run_text(run) -> str:
    """``Run(digits: torch mlp 256 relu, sgd lr=0.1)`` and three short lines."""
    return "\n".join([f"Run({run.title()})", "  " + " · ".join(headline(run)), "  " + " · ".join(facts(run)),
                      "  " + where(run)])


def run_html(run) -> str:
    rows = [("metrics", " · ".join(headline(run))), ("trained", " · ".join(facts(run))), ("folder", where(run))]
    cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
                    for k, v in rows)
    return f"<div><b>Run</b> {html.escape(run.title())}<table>{cells}</table></div>"


def class_names(run) -> list[str]:
    n = 2 if run.schema.task == "binary" else run.schema.output_size
    return list(run.schema.class_names) if run.schema.class_names else [str(i) for i in range(n)]


def labelled(run, x, y, what: str):
    """(rows as given, class indices): ``x`` and ``y``, or the run's own test rows."""
    if run.schema.task == "regression":
        raise ValueError(f"{what} is for classification; this run is a regression")
    if x is None:
        data = run.data
        if data is None or data.x_test is None or not len(data.x_test):
            raise ValueError(f"{what}() needs rows: this run keeps no test rows (a loaded run keeps none); "
                             f"pass them and their labels: run.{what}(x, y)")
        return data.x_test, data.y_test.reshape(-1).long().numpy()
    if y is None:
        raise ValueError(f"{what}(x, y): give the labels y of the rows x too")
    y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    return x, run._class_index(y)


def curves(run):
    return inline(figures.curves_figure(run.history, title=run.title()))


def confusion(run, x, y):
    x, index = labelled(run, x, y, "plot_confusion")
    names = class_names(run)
    predicted = run.predict(x, names=False)
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(cm, (index, predicted), 1)
    accuracy = float((predicted == index).mean()) if len(index) else float("nan")
    return inline(figures.confusion_figure(cm, names, f"{run.schema.name}: {len(index)} rows, "
                                                      f"accuracy {accuracy:.3f}"))


def predictions(run, x, y, n: int):
    if run.schema.image_shape is None:
        raise ValueError("plot_predictions draws images; this run's rows are not images (use plot_confusion)")
    x, index = labelled(run, x, y, "plot_predictions")
    x, index = x[:n], index[:n]
    predicted = run.predict(x, names=False)
    pictures = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x
    return inline(figures.predictions_figure(pictures, index.tolist(), predicted.tolist(), class_names(run),
                                             run.schema.image_shape))


def weights(run, n: int):
    from mlplab.plots.filters import weights_figure

    return inline(weights_figure(run.model, run.schema.image_shape, n=n, title=run.schema.name))
