"""mlplab's default, as a user runs it, against HGB, a linear model and scikit-learn's MLP on 17 real tables.

Tables: the 13 of the tabular corpus (MANIFEST.tsv gives file, target, task; folder $MLPLAB_TABULAR_CORPUS or
--corpus, else ../shared/data/tabular-corpus beside the repo) and 4 more ($MLPLAB_TABULAR or --tabular, else
../shared/data/tabular): bank-full (y, binary; ``duration`` kept, as the original study does), diamonds (price,
regression), titanic (survived, binary, minus ``alive`` = the target), penguins (species, multiclass). A folder
that is missing is skipped, saying so.

Split (REFERENCE.tsv's rule): rows with a missing target dropped, then train_test_split(test_size=0.2,
random_state=seed), stratified for classification; written as train.csv / test.csv (untimed), the same files
for every model. Models, each a whole process timed from those files to test metrics (wall seconds, one thread):

- ``mlplab``: a whole CLI process as a user runs it, ``mlplab train --data train.csv --target T --test test.csv
  --task TASK --quiet --seed S --out TMP`` (+ --extra-args); its metrics from the run's metrics.json. It holds
  15% of train.csv out for early stopping; the others fit on all of it. Its time includes starting Python,
  importing torch (``startup`` in the JSON: the time of ``mlplab train --help``) and everything the run folder
  gets: its figures and its own baselines, which its report worker process makes beside the training
  (mlplab.runs.report_worker; with one thread each, the two processes take both cores).
- the peers: each in a process of its own (this script with ``--peer``: Python's start, importing pandas and
  scikit-learn, reading the files, fitting, predicting, scoring), as a user's script would run them; the time
  of the fit alone, from the files to predictions inside that process, is kept too (``in_process_seconds``)
  and its ratios printed beside the whole-process ones.
- ``hgb``: HistGradientBoosting{Classifier,Regressor}(categorical_features="from_dtype", random_state=seed);
  text columns as pandas categories of the training levels (unseen: missing), a column with more than 254
  training levels lumped to its 254 most frequent + ``__other__`` (HGB takes at most 255).
- ``linear``: LogisticRegression(max_iter=1000) / Ridge(alpha=1), and ``sk-mlp``: MLP{Classifier,Regressor}
  (early_stopping=True, random_state=seed; the regressor's target standardised), both behind one
  ColumnTransformer: median impute + StandardScaler for numbers; most-frequent impute +
  OneHotEncoder(handle_unknown="ignore", min_frequency=10) for text (REFERENCE.tsv's min_frequency).

Primary metric: ROC-AUC (binary), RMSE in target units (regression), accuracy (multiclass) unless the
majority class holds over 90% of the labelled rows (covid_testing): there every model predicts the majority,
accuracy cannot tell them apart, so log-loss. Accuracy and log-loss (and R² for regression) are reported too.
Summary: mlplab's wins / ties / losses against each peer (the tie rule is printed with it), the median time
ratios, the largest shortfall against HGB. Set OMP_NUM_THREADS=1 before starting (the mlplab process inherits it).

    OMP_NUM_THREADS=1 python benchmarks/bench_tabular.py [--seeds 3] [--tables a,b] [--quick]
        [--extra-args "--hidden 512,512"] [--json out.json] [--tabular DIR] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EXTRA = {"bank-full": ("bank-full.csv", "y", "binary", ()), "diamonds": ("diamonds.csv", "price", "regression", ()),
         "titanic": ("titanic.csv", "survived", "binary", ("alive",)),
         "penguins": ("penguins.csv", "species", "multiclass", ())}
QUICK = ("penguins", "titanic", "ames")
MODELS = ("mlplab", "hgb", "linear", "sk-mlp")
PEERS = MODELS[1:]
HIGHER = {"roc_auc": True, "accuracy": True, "r2": True, "rmse": False, "log_loss": False}
FLOOR = {"roc_auc": ("abs", 0.002), "accuracy": ("abs", 0.002), "rmse": ("rel", 0.005), "log_loss": ("rel", 0.005)}
MAJORITY = 0.9   # a multiclass table whose majority class is above this share is judged by log-loss
TIE_RULE = ("tie: |mean difference| ≤ max(standard error of the per-seed paired differences, a floor of 0.002 "
            "absolute for ROC-AUC/accuracy or 0.5% relative for RMSE/log-loss)")


def folders(args) -> dict[str, Path]:
    here = REPO.parent / "shared" / "data"
    return {"corpus": Path(args.corpus or os.environ.get("MLPLAB_TABULAR_CORPUS") or here / "tabular-corpus"),
            "tabular": Path(args.tabular or os.environ.get("MLPLAB_TABULAR") or here / "tabular")}


def catalogue(dirs: dict[str, Path]) -> dict[str, tuple[Path, str, str, tuple]]:
    """name -> (file, target, task, columns to drop), for the tables whose folder is there."""
    out = {}
    manifest = dirs["corpus"] / "MANIFEST.tsv"
    if manifest.exists():
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                out[row["name"]] = (dirs["corpus"] / row["file"], row["target"], row["task"], ())
    else:
        print(f"skipped: the 13 corpus tables ({manifest} not found)", file=sys.stderr)
    if dirs["tabular"].is_dir():
        out.update({n: (dirs["tabular"] / f, t, task, d) for n, (f, t, task, d) in EXTRA.items()})
    else:
        print(f"skipped: {', '.join(EXTRA)} ({dirs['tabular']} not found)", file=sys.stderr)
    return out


def split(path: Path, target: str, task: str, drop: tuple, seed: int, folder: Path) -> dict:
    """train.csv / test.csv in ``folder`` (cells as written in the file); the table's facts."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    cells = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig").drop(columns=list(drop))
    labelled = pd.read_csv(path, usecols=[target], encoding="utf-8-sig")[target].notna().to_numpy()
    cells = cells[labelled]
    y = cells[target].to_numpy()
    train, test = train_test_split(cells, test_size=0.2, random_state=seed,
                                   stratify=None if task == "regression" else y)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    majority = None if task == "regression" else float(pd.Series(y).value_counts(normalize=True).iloc[0])
    return {"rows": len(cells), "train": len(train), "test": len(test), "majority": majority}


def primary(task: str, majority: float | None) -> str:
    if task == "binary":
        return "roc_auc"
    if task == "regression":
        return "rmse"
    return "log_loss" if majority > MAJORITY else "accuracy"


def run_mlplab(folder: Path, target: str, task: str, seed: int, extra: list[str]) -> dict:
    out = folder / f"runs-{seed}"
    cmd = [sys.executable, "-m", "mlplab", "train", "--data", str(folder / "train.csv"), "--target", target,
           "--test", str(folder / "test.csv"), "--task", task, "--quiet",
           "--seed", str(seed), "--out", str(out), *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"mlplab train failed ({r.returncode}): {r.stderr.strip()[-1500:]}")
    (metrics,) = out.glob("*/metrics.json")
    m = json.loads(metrics.read_text())
    test = m["test"]
    keys = ("rmse", "r2") if task == "regression" else ("accuracy", "log_loss", "roc_auc")
    res = {k: test[k] for k in keys if k in test}
    res.update(seconds=seconds, epochs=m.get("early_stopping", {}).get("epochs_run"))
    return res


def frames(folder: Path, target: str, task: str):
    """(x_train, x_test, y_train, y_test, numeric columns, text columns) as pandas reads the files."""
    import pandas as pd

    train, test = pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")
    y_tr, y_te = train.pop(target).to_numpy(), test.pop(target).to_numpy()
    if task != "regression":  # class indices over the sorted labels: the later one is the positive class
        classes = np.unique(y_tr.astype(str))
        y_tr, y_te = np.searchsorted(classes, y_tr.astype(str)), np.searchsorted(classes, y_te.astype(str))
    nums = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
    texts = [c for c in train.columns if c not in nums]
    for x in (train, test):
        x[nums] = x[nums].astype(float)
        x[texts] = x[texts].astype(object).where(x[texts].notna(), np.nan)
    return train, test, y_tr.astype(float) if task == "regression" else y_tr, y_te, nums, texts


def as_categories(train, test, texts: list[str], most: int = 254):
    """Text columns as pandas categories of the training levels; over ``most`` levels: the ``most`` frequent
    plus ``__other__`` (train and test alike); a level the training rows lack is missing."""
    import pandas as pd

    for c in texts:
        counts = train[c].value_counts()
        levels = list(counts.index)
        if len(levels) > most:
            levels = levels[:most]
            for x in (train, test):
                x[c] = x[c].where(x[c].isna() | x[c].isin(levels), "__other__")
            levels.append("__other__")
        for x in (train, test):
            x[c] = pd.Categorical(x[c].where(x[c].isin(levels)), categories=levels)
    return train, test


def peer(kind: str, task: str, seed: int, nums: list[str], texts: list[str]):
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    reg = task == "regression"
    if kind == "hgb":
        return (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(
            categorical_features="from_dtype", random_state=seed)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        ("text", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore", min_frequency=10)), texts)])
    if kind == "linear":
        model = Ridge(alpha=1.0) if reg else LogisticRegression(max_iter=1000)
    elif reg:
        model = TransformedTargetRegressor(MLPRegressor(early_stopping=True, random_state=seed),
                                           transformer=StandardScaler())
    else:
        model = MLPClassifier(early_stopping=True, random_state=seed)
    return make_pipeline(pre, model)


def run_peer(kind: str, folder: Path, target: str, task: str, seed: int) -> dict:
    from sklearn import metrics as skm

    t0 = time.perf_counter()  # from the files, as mlplab's time is
    x_tr, x_te, y_tr, y_te, nums, texts = frames(folder, target, task)
    if kind == "hgb":
        x_tr, x_te = as_categories(x_tr, x_te, texts)
    model = peer(kind, task, seed, nums, texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the models are run as configured, not tuned
        model.fit(x_tr, y_tr)
    s = model.predict(x_te) if task == "regression" else model.predict_proba(x_te)
    seconds = time.perf_counter() - t0
    if task == "regression":
        return {"rmse": float(np.sqrt(skm.mean_squared_error(y_te, s))), "r2": float(skm.r2_score(y_te, s)),
                "seconds": seconds}
    labels = list(range(s.shape[1]))
    res = {"accuracy": float(skm.accuracy_score(y_te, s.argmax(axis=1))),
           "log_loss": float(skm.log_loss(y_te, s, labels=labels))}
    if task == "binary":
        res["roc_auc"] = float(skm.roc_auc_score(y_te, s[:, 1]))
    return {**res, "seconds": seconds}


def run_peer_process(kind: str, folder: Path, target: str, task: str, seed: int) -> dict:
    """``run_peer`` in a process of its own; ``seconds``: that process's wall time, ``in_process_seconds``:
    the time ``run_peer`` measured inside it."""
    cmd = [sys.executable, __file__, "--peer", kind, "--folder", str(folder), "--target", target, "--task", task,
           "--seed", str(seed)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{kind} failed ({r.returncode}): {r.stderr.strip()[-1500:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["in_process_seconds"] = res.pop("seconds")
    return {**res, "seconds": seconds}


def verdict(metric: str, ours: list[float], theirs: list[float]) -> str:
    """win / tie / loss of ``ours`` against ``theirs`` (per-seed values on the same splits), by TIE_RULE."""
    d = np.asarray(ours) - np.asarray(theirs)
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    kind, floor = FLOOR[metric]
    margin = max(se, floor * (abs(np.mean(theirs)) if kind == "rel" else 1))
    if abs(d.mean()) <= margin:
        return "tie"
    return "win" if (d.mean() > 0) == HIGHER[metric] else "loss"


def mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    digits = 4 if np.nanmax(np.abs(v)) < 100 else 1
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def summarise(tables: dict) -> dict:
    """Per table: the verdicts against each peer; over all: counts, median time ratios, largest shortfall."""
    out = {"rule": TIE_RULE, "tables": 0, "vs": {p: {"win": 0, "tie": 0, "loss": 0} for p in PEERS}}
    ratios = {p: [] for p in ("hgb", "sk-mlp")}
    inside = {p: [] for p in ("hgb", "sk-mlp")}  # against the peers' fits timed inside their processes
    worst = {"abs": (0.0, None), "rel": (0.0, None)}
    for name, t in tables.items():
        if set(t["results"]) != set(MODELS):
            continue
        out["tables"] += 1
        k, r = t["metric"], t["results"]
        t["vs"] = {p: verdict(k, [x[k] for x in r["mlplab"]], [x[k] for x in r[p]]) for p in PEERS}
        for p in PEERS:
            out["vs"][p][t["vs"][p]] += 1
        secs = {m: np.mean([x["seconds"] for x in r[m]]) for m in MODELS}
        for p in ratios:
            ratios[p].append(secs["mlplab"] / secs[p])
            if all("in_process_seconds" in x for x in r[p]):
                inside[p].append(secs["mlplab"] / np.mean([x["in_process_seconds"] for x in r[p]]))
        ours, hgb = (np.mean([x[k] for x in r[m]]) for m in ("mlplab", "hgb"))
        kind = FLOOR[k][0]
        short = (hgb - ours if HIGHER[k] else ours - hgb) / (abs(hgb) if kind == "rel" else 1)
        if short > worst[kind][0]:
            worst[kind] = (float(short), name)
    for p in PEERS:
        out["vs"][p]["at_least_as_good"] = out["vs"][p]["win"] + out["vs"][p]["tie"]
    out["median_time_ratio"] = {p: float(np.median(v)) if v else None for p, v in ratios.items()}
    out["median_time_ratio_vs_fit_alone"] = {p: float(np.median(v)) if v else None for p, v in inside.items()}
    out["largest_shortfall_vs_hgb"] = {"absolute (ROC-AUC, accuracy)": list(worst["abs"]),
                                       "relative (RMSE, log-loss)": list(worst["rel"])}
    return out


def report(tables: dict, summary: dict, seeds: int, startup: float) -> str:
    head = ("| table | task | metric | " + " | ".join(MODELS) + " | mlplab / hgb | mlplab / sk-mlp | vs hgb · linear"
            " · sk-mlp | seconds " + " / ".join(MODELS) + " | time mlplab / hgb |")
    lines = [head, "|---" * 11 + "|"]
    for name, t in tables.items():
        r, k = t["results"], t["metric"]
        mean = {m: np.mean([x[k] for x in r[m]]) for m in r}
        secs = {m: np.mean([x["seconds"] for x in r[m]]) for m in r}
        ratio = lambda a, b, d: f"{a[b[0]] / a[b[1]]:.{d}f}" if set(b) <= set(a) else "–"
        vs = " · ".join(t.get("vs", {}).get(p, "–") for p in PEERS)
        lines.append(f"| {name} | {t['task']} | {k} | " + " | ".join(mean_std([x[k] for x in r[m]]) if m in r
                     else "failed" for m in MODELS) + f" | {ratio(mean, ('mlplab', 'hgb'), 3)} | "
                     f"{ratio(mean, ('mlplab', 'sk-mlp'), 3)} | {vs} | " +
                     " / ".join(f"{secs[m]:.1f}" if m in secs else "–" for m in MODELS) +
                     f" | {ratio(secs, ('mlplab', 'hgb'), 1)} |")
    lines += ["", f"(mean ± sample std over {seeds} seed(s); rmse and log_loss: lower is better)", "",
              "| table | metric | " + " | ".join(MODELS) + " |", "|---" * 6 + "|"]
    for name, t in tables.items():
        for k in ("accuracy", "log_loss", "roc_auc", "rmse", "r2"):
            if k in t["results"].get("hgb", [{}])[0]:
                lines.append(f"| {name} | {k} | " + " | ".join(mean_std([x[k] for x in t["results"][m]])
                             if m in t["results"] else "failed" for m in MODELS) + " |")
    lines += ["", f"summary over {summary['tables']} table(s); {summary['rule']}"]
    for p, c in summary["vs"].items():
        lines.append(f"mlplab vs {p}: {c['win']} wins, {c['tie']} ties, {c['loss']} losses; "
                     f"at least as good on {c['at_least_as_good']} of {summary['tables']}")
    ratio = summary["median_time_ratio"]
    lines.append("median time ratio, whole processes from file to metrics: " +
                 ", ".join(f"mlplab / {p} {v:.2f}" for p, v in ratio.items() if v is not None)
                 + f" (`mlplab train --help` takes {startup:.1f} s)")
    alone = summary.get("median_time_ratio_vs_fit_alone", {})
    if any(v is not None for v in alone.values()):
        lines.append("median time ratio, mlplab's whole process against the peers' fit alone (no Python start, no "
                     "imports): " + ", ".join(f"mlplab / {p} {v:.2f}" for p, v in alone.items() if v is not None))
    for kind, (v, name) in summary["largest_shortfall_vs_hgb"].items():
        lines.append(f"largest shortfall vs hgb, {kind}: " +
                     (f"{v:.4f} ({name})" if name else "none (mlplab at least matches hgb's mean)"))
    lines += [f"failed: {name} {e}" for name, t in tables.items() for e in t["errors"]]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tables", help="comma-separated table names (default: all found)")
    p.add_argument("--quick", action="store_true", help=f"smoke test: {', '.join(QUICK)}, one seed")
    p.add_argument("--extra-args", default="", help="more flags for mlplab train, e.g. \"--hidden 512,512\"")
    p.add_argument("--json", help="write every raw number here")
    p.add_argument("--tabular", help="folder of the 4 extra tables (else $MLPLAB_TABULAR)")
    p.add_argument("--corpus", help="folder of the corpus (else $MLPLAB_TABULAR_CORPUS)")
    p.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # one peer on --folder's files, as JSON
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--target", help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.peer:
        print(json.dumps(run_peer(args.peer, Path(args.folder), args.target, args.task, args.seed)))
        return
    dirs = folders(args)
    known = catalogue(dirs)
    wanted = QUICK if args.quick else args.tables.split(",") if args.tables else list(known)
    seeds = 1 if args.quick else args.seeds
    absent = [n for n in wanted if n not in known]
    if absent and (dirs["corpus"] / "MANIFEST.tsv").exists() and dirs["tabular"].is_dir():
        p.error(f"unknown table(s) {', '.join(absent)}; choose from {', '.join(known)}")
    if absent:  # a name in a missing folder cannot be told from a typo: say both
        print(f"skipped: {', '.join(absent)} (not in the folders found)", file=sys.stderr)
    extra = shlex.split(args.extra_args)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlplab", "train", "--help"], capture_output=True, check=True)
    startup = time.perf_counter() - t0
    tables = {}
    for name in (n for n in wanted if n in known):
        path, target, task, drop = known[name]
        t = tables[name] = {"task": task, "target": target, "results": {}, "errors": []}
        for seed in range(seeds):
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                facts = split(path, target, task, drop, seed, Path(tmp))
                t.update(rows=facts["rows"], majority=facts["majority"], metric=primary(task, facts["majority"]))
                for model in MODELS:
                    try:
                        res = (run_mlplab(Path(tmp), target, task, seed, extra) if model == "mlplab"
                               else run_peer_process(model, Path(tmp), target, task, seed))
                    except Exception as e:  # one failure is reported, the rest of the run goes on
                        t["errors"].append(f"{model} seed {seed}: {e}")
                        print(f"{name} {model} seed {seed}: FAILED {e}", file=sys.stderr, flush=True)
                        continue
                    t["results"].setdefault(model, []).append(res)
                    print(f"{name} {model} seed {seed}: {json.dumps(res)}", file=sys.stderr, flush=True)
        for model in list(t["results"]):  # a model with a failed seed has no comparable mean
            if len(t["results"][model]) != seeds:
                del t["results"][model]
    summary = summarise(tables)
    print(report(tables, summary, seeds, startup))
    if args.json:
        import sklearn
        import torch

        Path(args.json).write_text(json.dumps({
            "settings": {"seeds": seeds, "extra_args": extra, "startup_seconds": startup,
                         "python": platform.python_version(), "sklearn": sklearn.__version__,
                         "torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
                         "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
            "tables": tables, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
