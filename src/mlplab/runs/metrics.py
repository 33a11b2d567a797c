"""Metrics of a table run on labelled rows, in the target's own units.

Classification: accuracy, balanced accuracy, log loss, per-class precision/recall/F1/support and the
confusion matrix (rows: true class, columns: predicted; also drawn as ``confusion.png``); binary also
ROC-AUC, PR-AUC (average precision) and the decision threshold used (P(positive) ≥ 0.5, the second class
being the positive one). Regression: RMSE, MAE and R², in the target's units (prices in dollars).
A run trained on a table puts these, for its test rows, under ``test`` in metrics.json and in metrics.md,
and (config.baselines "auto") a linear model's and HistGradientBoosting's on the same rows under ``baselines``
(mlplab.runs.baselines); ``baseline_line`` says the three in one line.

Computed here in numpy, each equal to scikit-learn's (tests/test_metrics.py): importing sklearn.metrics takes
1.4 s (it pulls scipy.stats and pandas), a third of a small table's whole run (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

THRESHOLD = 0.5
PRIMARY = {"binary": ("roc_auc", "ROC-AUC"), "multiclass": ("accuracy", "accuracy"), "regression": ("rmse", "RMSE")}
BASELINE_NAMES = {"hgb": "HGB", "linear": "linear"}  # their order in the printed line and metrics.md


def scores(run, x) -> np.ndarray:
    """Class probabilities (N, C) for classification, values in target units (N,) for regression."""
    return run.predict(x) if run.schema.task == "regression" else run.predict_proba(x)


def table_metrics(task: str, y: np.ndarray, s: np.ndarray, class_names=None) -> dict:
    """``y``: class indices or target values; ``s``: ``scores`` for the same rows."""
    if task == "regression":
        y, s = np.asarray(y, np.float64).reshape(-1), np.asarray(s, np.float64).reshape(-1)
        error = s - y
        total = np.sum((y - y.mean()) ** 2)
        r2 = 1 - np.sum(error ** 2) / total if total > 0 else (1.0 if not error.any() else 0.0)
        return {"rows": len(y), "rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
                "r2": float(r2)}
    names = list(class_names)
    k, y = len(names), np.asarray(y, np.int64).reshape(-1)
    s = np.asarray(s, np.float64)
    pred = (s[:, 1] >= THRESHOLD).astype(np.int64) if task == "binary" else s.argmax(axis=1)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)  # rows: true class, columns: predicted
    hits, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    precision, recall = ratio(hits, predicted), ratio(hits, support)
    f1 = ratio(2 * hits, support + predicted)
    out = {"rows": len(y), "accuracy": float(hits.sum() / len(y)),
           "balanced_accuracy": float(np.mean(recall[support > 0])),  # over the classes the rows hold
           "log_loss": float(-np.mean(np.log(np.clip(s[np.arange(len(y)), y], 1e-15, 1 - np.finfo(np.float64).eps)))),
           "per_class": {names[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                    "support": int(support[i])} for i in range(k)},
           "confusion_matrix": cm.tolist(), "classes": names}
    if task == "binary":
        from mlplab.training.roc_auc import roc_auc

        positive, both = y == 1, len(np.unique(y)) == 2
        out.update({"positive_class": names[1], "threshold": THRESHOLD, "roc_auc": roc_auc(s[:, 1], positive),
                    "pr_auc": average_precision(positive, s[:, 1]) if both else float("nan")})
    return out


def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, 0 where b is 0 (scikit-learn's zero_division=0)."""
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """PR-AUC as scikit-learn's average_precision_score: Σ (recall_t − recall_{t−1}) · precision_t over the
    distinct scores t, highest first."""
    order = np.argsort(-score, kind="stable")
    hit, score = positive[order], score[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # the last row of each distinct score
    tp = np.cumsum(hit)[last]
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / (last + 1)))


def headline(m: dict) -> str:
    """The few numbers a reader looks at first, in one line."""
    keys = ("rmse", "mae", "r2") if "rmse" in m else ("accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "log_loss")
    return "  ".join(f"{k} {m[k]:.4f}" if abs(m[k]) < 1e4 else f"{k} {m[k]:.1f}" for k in keys if k in m)


def markdown(m: dict, title: str) -> str:
    lines = [f"# {title}", "", f"rows: {m['rows']}", ""]
    lines += [f"- {k}: {m[k]:.6g}" for k in ("rmse", "mae", "r2", "accuracy", "balanced_accuracy", "log_loss",
                                           "roc_auc", "pr_auc", "threshold") if k in m]
    if "positive_class" in m:
        lines.append(f"- positive class: {m['positive_class']} (predicted when P ≥ {m['threshold']})")
    if "per_class" in m:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {c} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} |"
                  for c, v in m["per_class"].items()]
        lines += ["", "confusion matrix (rows: true, columns: predicted)", "",
                  "| | " + " | ".join(m["classes"]) + " |", "|---" * (len(m["classes"]) + 1) + "|"]
        lines += [f"| {c} | " + " | ".join(map(str, row)) + " |" for c, row in zip(m["classes"], m["confusion_matrix"])]
    return "\n".join(lines) + "\n"


def confusion_png(m: dict, path: Path, title: str) -> None:
    from mlplab.plots.figures import confusion_figure, save

    save(confusion_figure(m["confusion_matrix"], m["classes"], title), path)


def add_table_metrics(run) -> None:
    """The run's test rows' metrics under ``test`` (and the headline ones as ``test_<name>``) in run.metrics."""
    data = run.data
    if data.x_test is None or not len(data.x_test):
        return
    y = data.y_test.reshape(-1).numpy()
    if data.task == "regression":
        y = run.schema.target_units(data.y_test).reshape(-1).numpy()
    m = table_metrics(data.task, y if data.task == "regression" else y.astype(np.int64),
                      scores(run, data.encoded("test")), data.class_names)  # the test rows as training encoded them
    run.metrics["test"] = m
    run.metrics.update({f"test_{k}": m[k] for k in ("rmse", "mae", "r2", "roc_auc", "pr_auc", "balanced_accuracy")
                        if k in m})
    run.metrics["task_reason"] = run.schema.columns.target.reason


def primary(m: dict) -> tuple[str, str]:
    """(key, label) of the metric a table's task is judged by: ROC-AUC, accuracy or RMSE."""
    task = "regression" if "rmse" in m else "binary" if "roc_auc" in m else "multiclass"
    return PRIMARY[task]


def units(v: float) -> str:
    """A value in target units to 4 significant digits, never in exponent form: 24,005 · 547.9 · 1.320."""
    if not np.isfinite(v) or v == 0:
        return f"{v:g}"
    return f"{v:,.{max(0, 3 - int(np.floor(np.log10(abs(v)))))}f}"


def baseline_line(metrics: dict) -> str:
    """``test ROC-AUC: mlplab 0.884 · HGB 0.885 · linear 0.882``; without baselines the net's alone, and why."""
    m = metrics["test"]
    key, label = primary(m)
    show = lambda v: "n/a" if v is None or not np.isfinite(v) else units(v) if key == "rmse" else f"{v:.3f}"
    parts = [f"mlplab {show(m[key])}"]
    b = metrics.get("baselines") or {}
    parts += [f"{name} {show(b['models'][n][key])}" for n, name in BASELINE_NAMES.items() if n in b.get("models", {})]
    line = f"test {label}: " + " · ".join(parts)
    if b and not b.get("models"):
        line += f" ({b['decision']})"
    return line


def baselines_markdown(metrics: dict) -> str:
    """The baselines' section of metrics.md: the net beside them, on the same test rows."""
    b, net = metrics["baselines"], metrics["test"]
    keys = [k for k in ("rmse", "mae", "r2", "roc_auc", "accuracy", "log_loss") if k in net]
    lines = ["", "## baselines (same training and test rows)", "", b["decision"], ""]
    if b.get("models"):
        lines += ["| model | " + " | ".join(keys) + " | seconds (fit) |", "|---" * (len(keys) + 2) + "|"]
        lines.append("| mlplab | " + " | ".join(f"{net[k]:.6g}" for k in keys) +
                     f" | {metrics.get('train_seconds', float('nan')):.2f} |")
        lines += [f"| {name} ({b['models'][n]['model']}) | " + " | ".join(f"{b['models'][n][k]:.6g}" for k in keys)
                  + f" | {b['models'][n]['seconds']:.2f} |" for n, name in BASELINE_NAMES.items() if n in b["models"]]
    return "\n".join(lines) + "\n"


def write_table_report(path: Path, run) -> None:
    """columns.md (every preprocessing choice) and metrics.md (test rows) in the run folder (its confusion.png is
    one of mlplab.runs.run.figure_jobs)."""
    from mlplab.runs.rundir import write_text

    write_text(path / "columns.md", "# columns\n\n" + "".join(f"- {line}\n" for line in run.schema.columns.report))
    m = run.metrics.get("test")
    if m is not None:
        write_text(path / "metrics.md", markdown(m, f"{run.schema.name}: test rows") +
                   (baselines_markdown(run.metrics) if "baselines" in run.metrics else ""))
