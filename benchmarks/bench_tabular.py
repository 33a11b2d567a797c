"""mlplab's table default against scikit-learn on four real tables: test metric, wall time, ratios (run by hand).

Tables (../shared/data/tabular beside the repo, or $MLPLAB_TABULAR): diamonds (price, regression), bank-full
(y, binary; ``duration`` is a known leak, kept as the original study does), titanic (survived, binary, minus
``alive``), penguins (species, multiclass). Per seed, one split for all three models: 20% test (seeded,
stratified), the same rows mlplab.data.tabular.split_rows takes; mlplab holds out 15% of all rows from the
rest for early stopping, scikit-learn trains on all the rest.

- ``mlplab``: ``Dataset.from_table`` + ``mlplab.train`` with the table preset of the task
  (mlplab.training.presets: TABLE and the table_keys of its task and size).
- ``hgb``: HistGradientBoosting{Classifier,Regressor}, defaults, categorical_features="from_dtype".
- ``sk-mlp``: MLP{Classifier,Regressor} defaults (100 hidden, adam, early_stopping=True so it stops like
  mlplab does) behind a ColumnTransformer: median impute + StandardScaler; most-frequent impute + OneHotEncoder
  (handle_unknown="ignore"); the regressor's target standardised (TransformedTargetRegressor).

Metric: accuracy and ROC-AUC (binary), accuracy (multiclass), RMSE in target units (regression). Times are
wall seconds from the file to the test metric, for every model: reading the table, the split, preprocessing,
fit and predict. One thread (set OMP_NUM_THREADS=1 before starting).

    OMP_NUM_THREADS=1 python benchmarks/bench_tabular.py [--seeds 3] [--only penguins,titanic]
        [--models mlplab,hgb] [--set key=value ...] [--scaling standard] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TABLES = {  # name: (file, target, columns to drop)
    "diamonds": ("diamonds.csv", "price", ()),
    "bank-full": ("bank-full.csv", "y", ()),
    "titanic": ("titanic.csv", "survived", ("alive",)),
    "penguins": ("penguins.csv", "species", ()),
}
MODELS = ("mlplab", "hgb", "sk-mlp")


def folder() -> Path:
    return Path(os.environ.get("MLPLAB_TABULAR", REPO.parent / "shared" / "data" / "tabular"))


def score(task: str, y, proba_or_values) -> dict:
    from sklearn import metrics

    if task == "regression":
        return {"rmse": float(np.sqrt(metrics.mean_squared_error(y, proba_or_values)))}
    out = {"accuracy": float(metrics.accuracy_score(y, proba_or_values.argmax(axis=1)))}
    if task == "binary":
        out["roc_auc"] = float(metrics.roc_auc_score(y, proba_or_values[:, 1]))
    return out


def run_mlplab(path, target, drop, seed, overrides, scaling):
    import mlplab
    from mlplab.data.tabular import from_table

    t0 = time.perf_counter()
    data = from_table(path, target, drop=drop, seed=seed, scaling=scaling, log=lambda m: None)
    run = mlplab.train(data, progress="quiet", device="cpu", seed=seed, **overrides)
    m = run.metrics["test"]
    keys = ("rmse",) if "rmse" in m else ("accuracy", "roc_auc")
    out = {k: m[k] for k in keys if k in m}
    out["seconds"] = time.perf_counter() - t0
    out["epochs"] = len(run.history.rows)
    return out


def frames(path, target, drop, seed):
    """(train frame, test frame, y_train, y_test, task, categorical column names) on mlplab's split."""
    import pyarrow as pa

    from mlplab.data.table import read_table
    from mlplab.data.tabular import labelled_rows, split_rows
    from mlplab.data.target import Target

    table = read_table(path)
    table = table.filter(labelled_rows(table, target, None, lambda m: None)).drop_columns(list(drop))
    spec = Target.detect(table.column(target), target)
    y = spec.encode(table.column(target))
    train, val, test = split_rows(y, spec.task, 0.15, 0.2, seed)
    rest = np.sort(np.concatenate([train, val]))
    df = table.drop_columns([target]).to_pandas()
    cats = [c for c, t in zip(table.schema.names, table.schema.types) if c != target
            and (pa.types.is_string(t) or pa.types.is_boolean(t))]
    for c in cats:
        df[c] = df[c].astype("category")
    return df.iloc[rest], df.iloc[test], y[rest], y[test], spec.task, cats


def run_sklearn(kind, path, target, drop, seed):
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    t0 = time.perf_counter()  # from the file, as mlplab's time is: reading, the split and the frames count
    x_tr, x_te, y_tr, y_te, task, cats = frames(path, target, drop, seed)
    reg = task == "regression"
    if kind == "hgb":
        model = (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(
            categorical_features="from_dtype", random_state=seed)
    else:
        nums = [c for c in x_tr.columns if c not in cats]
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats)])
        if reg:
            net = TransformedTargetRegressor(MLPRegressor(early_stopping=True, random_state=seed),
                                             transformer=StandardScaler())
        else:
            net = MLPClassifier(early_stopping=True, random_state=seed)
        model = make_pipeline(pre, net)
        x_tr, x_te = x_tr.astype({c: object for c in cats}), x_te.astype({c: object for c in cats})
    model.fit(x_tr, y_tr)
    out = score(task, y_te, model.predict(x_te) if reg else model.predict_proba(x_te))
    out["seconds"] = time.perf_counter() - t0
    return out


def warm_up() -> None:
    """One tiny fit of each model, untimed: what a process pays once (imports torch's optimizer machinery
    pulls in, sklearn's first OpenMP pool) is not charged to the first table's first seed."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.neural_network import MLPClassifier

    import mlplab
    from mlplab.data.dataset import Dataset
    from mlplab.training.presets import TABLE, table_keys

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 4)), rng.integers(0, 2, 200)
    mlplab.train(Dataset.from_arrays(x, y), **{**TABLE, **table_keys(), "epochs": 1}, progress="quiet", device="cpu")
    HistGradientBoostingClassifier(max_iter=2).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two iterations do not converge, on purpose
        MLPClassifier(max_iter=2).fit(x, y)


def typed(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return tuple(typed(v) for v in value.split(",")) if "," in value else value


def table(results: dict, seeds: int) -> str:
    def ms(values):
        values = np.asarray(values, dtype=float)
        return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}" if len(values) > 1 else f"{values.mean():.4f}"

    lines = ["| table | metric | " + " | ".join(MODELS) + " | mlplab / hgb | mlplab / sk-mlp | seconds: " +
             " / ".join(MODELS) + " | time mlplab / hgb |", "|---" * 9 + "|"]
    for name, by_model in results.items():
        metrics = [k for k in next(iter(by_model.values()))[0] if k not in ("seconds", "epochs")]
        for k in metrics:
            mean = {m: np.mean([r[k] for r in rs]) for m, rs in by_model.items()}
            cells = [ms([r[k] for r in by_model[m]]) if m in by_model else "–" for m in MODELS]
            ratio = lambda other: f"{mean['mlplab'] / mean[other]:.3f}" if {"mlplab", other} <= set(mean) else "–"
            secs = {m: np.mean([r["seconds"] for r in rs]) for m, rs in by_model.items()}
            time_cells = " / ".join(f"{secs[m]:.1f}" if m in secs else "–" for m in MODELS)
            tr = f"{secs['mlplab'] / secs['hgb']:.1f}×" if {"mlplab", "hgb"} <= set(secs) else "–"
            lines.append(f"| {name} | {k} | " + " | ".join(cells) + f" | {ratio('hgb')} | {ratio('sk-mlp')} | "
                         f"{time_cells} | {tr} |")
    return "\n".join(lines) + f"\n\n(mean ± sample std over {seeds} seed(s); rmse: lower is better)\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", default=",".join(TABLES))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a table preset key")
    p.add_argument("--scaling", default="robust", choices=["robust", "standard"])
    p.add_argument("--json")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    import sklearn.compose  # noqa: F401  (imported untimed)
    import sklearn.ensemble  # noqa: F401  (imported untimed)
    import sklearn.neural_network  # noqa: F401  (imported untimed)

    import mlplab.runs.train  # noqa: F401  imports untimed
    warm_up()
    overrides = {k: typed(v) for k, v in (s.split("=", 1) for s in args.set)}
    results = {}
    for name in args.only.split(","):
        file, target, drop = TABLES[name]
        path = folder() / file
        results[name] = {}
        for model in args.models.split(","):
            for seed in range(args.seeds):
                r = (run_mlplab(path, target, drop, seed, overrides, args.scaling) if model == "mlplab"
                     else run_sklearn(model, path, target, drop, seed))
                results[name].setdefault(model, []).append(r)
                print(f"{name} {model} seed {seed}: {json.dumps(r)}", flush=True)
    print()
    print(table(results, args.seeds))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
