"""mlplab.sklearn estimators inside scikit-learn's own machinery: GridSearchCV, cross_val_score, Pipeline, checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlplab.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_grid_search_on_digits_picks_a_good_model():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    search = GridSearchCV(MLPClassifier(hidden=(32,), epochs=10, batch_size=64),
                          {"lr": [1e-4, 1e-2]}, cv=3)
    search.fit(X, y)
    assert search.best_params_ == {"lr": 1e-2}              # 10 epochs at 1e-4 barely move
    assert search.best_score_ > 0.9
    assert search.cv_results_["mean_test_score"][0] < search.best_score_


def test_cross_val_score_and_pipeline_with_scaler():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden=(32,), epochs=5, lr=0.01, batch_size=64))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    pipe.fit(X, y)
    proba = pipe.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (pipe.predict(X[:5]) == pipe.classes_[proba.argmax(1)]).all()


def test_regressor_pipeline_r2():
    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden=(16,), epochs=20, lr=0.01, batch_size=32))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.3                                 # a linear model gets about 0.48 here


def test_string_labels_params_and_bad_values():
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = MLPClassifier(hidden=8, epochs=30, lr=0.05).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"] and clf.score(X, y) > 0.9
    assert clf.get_params()["hidden"] == 8 and clf.set_params(lr=0.1).lr == 0.1
    assert len(clf.loss_curve_) == 30 and clf.n_iter_ == 30
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'"):
        MLPClassifier(optimizer="adamw").fit(X, y)
    with pytest.raises(ValueError, match="needs at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(60))


# scikit-learn's own estimator checks, small settings so each check takes about a second.
# No check is skipped; two are skipped by scikit-learn itself here: check_array_api_input (needs
# SCIPY_ARRAY_API=1) and check_*_data_not_an_array's pandas part (needs pandas, not a dependency).
@parametrize_with_checks([MLPClassifier(hidden=(8,), epochs=10, lr=0.05, batch_size=64),
                          MLPRegressor(hidden=(8,), epochs=10, lr=0.05, batch_size=64)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_the_estimators_need_no_run_folder_machinery():
    import subprocess
    import sys

    code = "import mlplab.sklearn, sys; print(sorted(m for m in sys.modules if m.startswith(('mlplab.runs', 'mlplab.plots', 'matplotlib'))))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_early_stopping_holds_out_a_validation_share_and_keeps_the_best_epoch():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(hidden=(32,), epochs=300, lr=0.01, early_stopping=3, validation_fraction=0.2).fit(X / 16, y)
    h = clf.history_
    assert h.stopped_epoch is not None and h.stopped_epoch < 300 and h.best_epoch == h.stopped_epoch - 3
    assert min(h.column("val_loss")) == h.final["val_loss"]
    assert clf.score(X / 16, y) > 0.9
