"""Two scikit-learn baselines fitted beside a table run, on the same encoded columns and the same split.

A net's test score means little alone: a reader wants to know whether a linear model or gradient-boosted
trees do as well on the same rows. ``fit_baselines(data)`` fits two models on the training rows as the net
takes them (``data.encoded("train")``: the columns mlplab.data.columns made) and scores them on the test rows
with mlplab.runs.metrics.table_metrics, so every number has the net's name and units (regression: target units):

- ``linear``: SimpleImputer(median) + StandardScaler + LogisticRegression(max_iter=1000) (classification)
  or Ridge(alpha=1). Imputer and scaler belong to the baseline, so it works whatever scaling the encoded
  inputs carry (or none, missing cells included); on mlplab's encoded columns the imputer has nothing to fill.
- ``hgb``: HistGradientBoosting{Classifier,Regressor} with scikit-learn's defaults (early stopping on its own
  10% of the rows above 10,000 rows), ``random_state`` the run's seed.

``plan`` holds every rule of when they run and on how many rows (the run records its answer and why).

>>> from mlplab.data.dataset import Dataset
>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(300, 3)); y = (x[:, 0] > 0).astype(int)
>>> b = fit_baselines(Dataset.from_arrays(x, y, test_fraction=0.2))
>>> sorted(b["models"]), b["models"]["linear"]["accuracy"] > 0.9
(['hgb', 'linear'], True)
"""

from __future__ import annotations

import time

import numpy as np

# The baselines see at most this many training rows (a seeded sample beyond it). Measured on one core of a
# shared 2-core machine (2026-12-03): on flights (212,774 training rows × 95 encoded columns) the table preset's
# net trains in 23 s; HGB takes 17.5 s on all rows, 5.3 s on 50,000 (RMSE 40.8 → 41.4 minutes), Ridge 0.3-1.4 s;
# on fertility (165,524 × 17) HGB 1.4 s and LogisticRegression 0.3 s on 50,000. The sample keeps them a
# fraction of the net's time while their score, the reference they are here for, moves little.
MAX_ROWS = 50_000
# Beyond this many cells (rows seen × encoded columns) even the sample is too slow next to the net: skip.
MAX_CELLS = 50_000 * 400


def plan(choice: str, rows: int, columns: int) -> tuple[int, str]:
    """(training rows the baselines fit on, 0 for none; the reason). ``choice``: config.baselines."""
    if choice == "none":
        return 0, "baselines none: not fitted"
    if rows == 0:
        return 0, "baselines auto: skipped, no training rows"
    seen = min(rows, MAX_ROWS)
    if seen * columns > MAX_CELLS:
        return 0, (f"baselines auto: skipped, {seen:,} rows × {columns:,} encoded columns is over "
                   f"{MAX_CELLS:,} cells (slow next to the net)")
    if seen < rows:
        return seen, (f"baselines auto: fitted on a seeded sample of {seen:,} of the {rows:,} training rows "
                      f"(at most {MAX_ROWS:,}: their scores barely move beyond, their time grows with the rows)")
    return seen, f"baselines auto: fitted on all {rows:,} training rows"


def models(task: str, seed: int) -> dict:
    """The unfitted baselines by name, for ``task``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        return {"linear": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=1.0)),
                "hgb": HistGradientBoostingRegressor(random_state=seed)}
    return {"linear": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                    LogisticRegression(max_iter=1000)),
            "hgb": HistGradientBoostingClassifier(random_state=seed)}


def labels(data, y) -> np.ndarray:
    """Targets as scikit-learn takes them: class indices (N,), or regression values (N,) in target units."""
    y = y.double() if data.task == "regression" else y
    if data.task == "regression" and data.target_stats is not None:
        y = y * data.target_stats[1] + data.target_stats[0]
    y = y.numpy().reshape(len(y), -1)
    return y[:, 0] if data.task == "regression" else y[:, 0].astype(np.int64)


def probabilities(model, x: np.ndarray, classes: int) -> np.ndarray:
    """(N, classes) over all of the data's classes, zeros for a class the (sampled) training rows lacked."""
    p = model.predict_proba(x)
    out = np.zeros((len(x), classes))
    out[:, model.classes_] = p
    return out


def inputs(data, *, choice: str = "auto", seed: int = 0) -> dict:
    """What the baselines fit and score, as numpy (float64, so LogisticRegression's probabilities sum to one to
    float64 precision, as log_loss checks): ``{"decision", "rows", "models": {}}``, plus ``task``,
    ``class_names``, ``x``, ``y``, ``x_test``, ``y_test`` and ``seed`` when there is something to fit."""
    x_test = data.encoded("test")
    if x_test is None or not len(x_test):
        return {"decision": "no test rows: nothing to score baselines on", "rows": 0, "models": {}}
    if data.task == "regression" and data.y_train.shape[1] != 1:
        return {"decision": "baselines: skipped, more than one regression target", "rows": 0, "models": {}}
    x = data.encoded("train")
    x = x.reshape(len(x), -1).numpy()
    rows, why = plan(choice, *x.shape)
    out = {"decision": why, "rows": rows, "models": {}}
    if rows == 0:  # before the targets are converted: nothing will use them
        return out
    y = labels(data, data.y_train)
    if rows < len(x):
        keep = np.sort(np.random.default_rng(seed).choice(len(x), rows, replace=False))
        x, y = x[keep], y[keep]
    return {**out, "task": data.task, "class_names": [str(c) for c in data.class_names or []], "seed": seed,
            "x": x.astype(np.float64), "y": y, "x_test": x_test.reshape(len(x_test), -1).numpy().astype(np.float64),
            "y_test": labels(data, data.y_test)}


def fit(given: dict) -> dict:
    """Fit ``inputs``' baselines and score them: ``{"decision", "rows", "models": {name: test metrics +
    "seconds" (fit and predict) + "model"}}`` (numpy and scikit-learn only: mlplab.runs.report_worker runs
    this in its own process while the net trains)."""
    from mlplab.runs.metrics import table_metrics

    out = {"decision": given["decision"], "rows": given["rows"], "models": {}}
    if "x" not in given:
        return out
    task, names, x_test = given["task"], given["class_names"], given["x_test"]
    for name, model in models(task, given["seed"]).items():
        t0 = time.perf_counter()
        model.fit(given["x"], given["y"])
        s = model.predict(x_test) if task == "regression" else probabilities(model, x_test, len(names))
        seconds = time.perf_counter() - t0
        out["models"][name] = {**table_metrics(task, given["y_test"], s, names), "seconds": seconds,
                               "model": type(model[-1] if hasattr(model, "steps") else model).__name__}
    return out


def fit_baselines(data, *, choice: str = "auto", seed: int = 0) -> dict:
    """Fit ``linear`` and ``hgb`` on the training rows, score them on the test rows, in this process (``fit``'s
    result; ``models`` is empty when ``plan`` says no or there are no test rows)."""
    return fit(inputs(data, choice=choice, seed=seed))
