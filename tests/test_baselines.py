"""mlplab.runs.baselines: the linear model and HGB beside a table run equal scikit-learn fitted independently on
the same matrices; a real run writes them to metrics.json and metrics.md; ``none`` leaves them out."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlplab
from mlplab.data.dataset import Dataset
from mlplab.runs import baselines
from mlplab.runs.baselines import fit_baselines, plan
from mlplab.runs.metrics import baseline_line

QUIET = {"log": lambda message: None}


@pytest.fixture(scope="module")
def titanic(tables):
    return Dataset.from_table(tables / "titanic.csv", "survived", drop=("alive",), **QUIET)


def frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A generated table: two numbers (one with gaps), a text column; a price in dollars and a 3-class label."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    town = rng.choice(["north", "south", "east"], n)
    b_gaps = np.where(rng.random(n) < 0.1, np.nan, b)
    price = 1000 + 300 * a - 200 * np.nan_to_num(b_gaps) + 150 * (town == "north") + rng.normal(0, 50, n)
    kind = np.select([a > 0.5, a < -0.5], ["high", "low"], "mid")
    return pd.DataFrame({"a": a, "b": b_gaps, "town": town, "price": price, "kind": kind})


def matrices(data):
    """The float64 training and test matrices the net takes, and their targets in target units."""
    x, x_test = (data.encoded(split).numpy().astype(np.float64) for split in ("train", "test"))
    if data.task == "regression":
        mean, scale = (float(v) for v in data.target_stats)
        y, y_test = (t.double().numpy()[:, 0] * scale + mean for t in (data.y_train, data.y_test))
        return x, x_test, y, y_test
    y, y_test = (t.numpy().reshape(len(t), -1)[:, 0].astype(np.int64) for t in (data.y_train, data.y_test))
    return x, x_test, y, y_test


def linear(task):
    last = Ridge(alpha=1.0) if task == "regression" else LogisticRegression(max_iter=1000)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), last)


def test_titanic_baselines_equal_an_independent_scikit_learn_fit(titanic):
    b = fit_baselines(titanic, seed=0)
    assert b["decision"] == f"baselines auto: fitted on all {len(titanic.x_train):,} training rows"
    x, x_test, y, y_test = matrices(titanic)
    for name, model in (("linear", linear("binary")), ("hgb", HistGradientBoostingClassifier(random_state=0))):
        p = model.fit(x, y).predict_proba(x_test)
        got = b["models"][name]
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_test, p[:, 1]), abs=1e-12), name
        assert got["accuracy"] == skm.accuracy_score(y_test, p.argmax(axis=1)), name
        assert got["log_loss"] == pytest.approx(skm.log_loss(y_test, p), rel=1e-12), name
        assert got["rows"] == len(y_test) and got["seconds"] > 0
    assert 0.80 < b["models"]["linear"]["roc_auc"] < 0.95  # titanic without `alive`: a real, imperfect signal


def test_regression_baselines_are_in_the_targets_dollars():
    data = Dataset.from_frame(frame().drop(columns="kind"), "price", seed=1, **QUIET)
    b = fit_baselines(data, seed=1)
    x, x_test, y, y_test = matrices(data)
    prices = frame()["price"].to_numpy()  # the test targets are the table's dollars (to float32's cent)
    assert (np.abs(y_test[:, None] - prices[None, :]).min(axis=1) < 0.01).all()
    for name, model in (("linear", linear("regression")), ("hgb", HistGradientBoostingRegressor(random_state=1))):
        s = model.fit(x, y).predict(x_test)
        assert b["models"][name]["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y_test, s)), rel=1e-12)
        assert b["models"][name]["r2"] == pytest.approx(skm.r2_score(y_test, s), rel=1e-12)
    assert 40 < b["models"]["linear"]["rmse"] < 120  # the noise is $50; a mean predictor would be ~$370


def test_a_table_over_the_row_cap_fits_on_a_seeded_sample(monkeypatch):
    monkeypatch.setattr(baselines, "MAX_ROWS", 200)
    data = Dataset.from_frame(frame().drop(columns="price"), "kind", seed=0, **QUIET)
    b = fit_baselines(data, seed=3)
    n = len(data.x_train)
    assert b["rows"] == 200 and "seeded sample of 200 of the" in b["decision"]
    keep = np.sort(np.random.default_rng(3).choice(n, 200, replace=False))
    x, x_test, y, y_test = matrices(data)
    p = linear("multiclass").fit(x[keep], y[keep]).predict_proba(x_test)
    assert b["models"]["linear"]["accuracy"] == skm.accuracy_score(y_test, p.argmax(axis=1))
    assert b["models"]["linear"]["classes"] == ["high", "low", "mid"]


def test_a_class_missing_from_the_sample_gets_probability_zero(monkeypatch):
    monkeypatch.setattr(baselines, "MAX_ROWS", 30)
    df = frame(n=400)
    df.loc[:5, "kind"] = "rare"  # six rows: a 30-row sample of ~280 training rows mostly misses it
    data = Dataset.from_frame(df.drop(columns="price"), "kind", seed=0, **QUIET)
    b = fit_baselines(data, seed=0)
    assert set(b["models"]) == {"linear", "hgb"}
    assert np.isfinite(b["models"]["linear"]["log_loss"])


@pytest.mark.parametrize("rows, columns, seen, starts", [
    (5_000, 30, 5_000, "baselines auto: fitted on all 5,000"),
    (262_000, 95, baselines.MAX_ROWS, "baselines auto: fitted on a seeded sample of 50,000 of the 262,000"),
    (262_000, 2_000, 0, "baselines auto: skipped, 50,000 rows × 2,000 encoded columns"),
])
def test_plan_says_how_many_rows_and_why(rows, columns, seen, starts):
    n, why = plan("auto", rows, columns)
    assert n == seen and why.startswith(starts), why
    assert plan("none", rows, columns) == (0, "baselines none: not fitted")


def test_a_run_writes_its_baselines_and_none_leaves_them_out(titanic, tmp_path):
    keys = dict(epochs=3, progress="quiet", device="cpu", seed=0)
    run = mlplab.train(titanic, out=str(tmp_path / "auto"), **keys)
    (folder,) = (tmp_path / "auto").iterdir()
    saved = json.loads((folder / "metrics.json").read_text())
    again = fit_baselines(titanic, seed=0)  # what the run fitted, on the same matrices
    assert saved["baselines"]["decision"] == again["decision"] == run.metrics["baselines"]["decision"]
    for name in ("hgb", "linear"):
        for k in ("roc_auc", "accuracy", "log_loss"):
            assert saved["baselines"]["models"][name][k] == again["models"][name][k], (name, k)
    report = (folder / "metrics.md").read_text()
    assert "## baselines (same training and test rows)" in report
    assert "| HGB (HistGradientBoostingClassifier) |" in report
    line = baseline_line(saved)
    m, b = saved["test"], saved["baselines"]["models"]
    assert line == (f"test ROC-AUC: mlplab {m['roc_auc']:.3f} · HGB {b['hgb']['roc_auc']:.3f} · "
                    f"linear {b['linear']['roc_auc']:.3f}")
    mlplab.train(titanic, out=str(tmp_path / "none"), baselines="none", **keys)
    (folder,) = (tmp_path / "none").iterdir()
    assert "baselines" not in json.loads((folder / "metrics.json").read_text())
    assert "baselines" not in (folder / "metrics.md").read_text()


@pytest.mark.parametrize("metrics, line", [
    ({"test": {"rmse": 547.91}, "baselines": {"decision": "", "models": {"hgb": {"rmse": 24004.9876},
                                                                         "linear": {"rmse": 1.3196}}}},
     "test RMSE: mlplab 547.9 · HGB 24,005 · linear 1.320"),
    ({"test": {"accuracy": 0.98551, "log_loss": 0.1}, "baselines": {"decision": "", "models": {
        "linear": {"accuracy": 0.97101}}}}, "test accuracy: mlplab 0.986 · linear 0.971"),
    ({"test": {"roc_auc": None, "accuracy": 0.5}}, "test ROC-AUC: mlplab n/a"),
    ({"test": {"roc_auc": 0.9, "accuracy": 0.5}, "baselines": {"decision": "baselines auto: skipped, x", "models": {}}},
     "test ROC-AUC: mlplab 0.900 (baselines auto: skipped, x)"),
])
def test_baseline_line_by_task(metrics, line):
    assert baseline_line(metrics) == line
