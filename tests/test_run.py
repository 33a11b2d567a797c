"""Run: what trained is what predicts, preprocessing included, after a save and a load in another process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mlplab
from mlplab.data.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]


def readme_snippet() -> str:
    """The README's "Python API" code block, as a user would copy it."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return section.split("```python", 1)[1].split("```", 1)[0]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_readme_snippet_round_trips_through_a_fresh_process(tmp_path):
    """float64 (N, 20) arrays with int32 labels 0..2 → train → predict → save → load_run elsewhere: identical."""
    code = readme_snippet()
    assert "Dataset.from_arrays" in code and "load_run" in code
    first = run_python(code + "\nnp.save('x_new.npy', x_new)\nnp.save('pred.npy', run.predict(x_new))\n", tmp_path)
    assert first.returncode == 0, first.stderr
    x_new = np.load(tmp_path / "x_new.npy")
    assert x_new.dtype == np.float64 and x_new.shape[1] == 20
    second = run_python("import numpy as np, mlplab\n"
                        "run = mlplab.load_run('my-run')\n"
                        "np.save('pred2.npy', run.predict(np.load('x_new.npy')))\n", tmp_path)
    assert second.returncode == 0, second.stderr
    before, after = np.load(tmp_path / "pred.npy"), np.load(tmp_path / "pred2.npy")
    assert before.dtype.kind == "i" and set(np.unique(before)) <= {0, 1, 2}
    assert np.array_equal(before, after)


def test_a_cli_run_folder_predicts_raw_rows_as_the_run_did(cli, tmp_path):
    """`mlplab train --dataset wine` standardises with training statistics; load_run applies them to raw rows."""
    r = cli("train", "--dataset", "wine", "--epochs", "15", "--out", str(tmp_path), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1].split("run folder: ")[1])
    from sklearn.datasets import load_wine

    from mlplab.data.load import load_dataset, split

    bunch = load_wine()
    raw_test = split(bunch.data, bunch.target, "multiclass", 0.2, 0.2, 0)[4]     # the run's test rows, unscaled
    data = load_dataset("wine", seed=0)
    run = mlplab.load_run(folder)
    with torch.no_grad():
        expected = run.model.eval()(data.encoded("test").float()).argmax(1).numpy()  # the model on the run's own inputs
    assert np.array_equal(run.predict(raw_test), expected)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert run.evaluate(raw_test, data.y_test.numpy())["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert metrics["test_accuracy"] > 0.9                             # and fed raw rows it is not at chance (0.33)


def test_predict_proba_labels_by_name_and_regression_in_target_units():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(400, 4))
    names = np.where(x[:, 0] + x[:, 1] > 10, "high", "low")
    run = mlplab.train(Dataset.from_arrays(x, names), epochs=30, lr=0.05, progress="quiet")
    proba = run.predict_proba(x[:10])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1)
    assert set(run.predict(x)) <= {"high", "low"} and (run.predict(x) == names).mean() > 0.9
    assert run.evaluate(x, names)["accuracy"] > 0.9
    with pytest.raises(ValueError, match="never seen in training"):
        run.evaluate(x[:2], np.array(["high", "medium"]))
    y = 100.0 * x[:, 0] + 7.0                                          # in "dollars", far from standardised
    reg = mlplab.train(Dataset.from_arrays(x, y), epochs=60, lr=0.05, progress="quiet")
    pred = reg.predict(x)
    assert pred.shape == (400,) and np.abs(pred - y).mean() < 0.05 * y.std()
    assert reg.evaluate(x, y)["r2"] > 0.99
    with pytest.raises(ValueError, match="for classification"):
        reg.predict_proba(x)


def test_predict_refuses_rows_of_another_shape_in_one_line():
    run = mlplab.train("iris", epochs=1, progress="quiet")
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, 4\) as in training; got \(4,\); for one sample"):
        run.predict(np.zeros(4))


def test_predicting_the_test_rows_of_a_dataset_that_has_none_says_so():
    x = np.random.default_rng(0).normal(size=(200, 3))
    data = mlplab.Dataset.from_arrays(x, (x[:, 0] > 0).astype(int))  # no test rows: x_test is None
    run = mlplab.train(data, epochs=1, progress="quiet")
    for predict in (run.predict, run.predict_proba):
        with pytest.raises(TypeError, match=r"got None \(a Dataset without test rows has x_test None"):
            predict(data.x_test)


def test_history_and_run_folder_round_trip(tmp_path):
    run = mlplab.train("digits", epochs=3, early_stopping=1, progress="quiet")
    run.save(tmp_path / "r")
    back = mlplab.load_run(tmp_path / "r")
    assert back.metrics == json.loads(json.dumps(run.metrics))
    assert [r["epoch"] for r in back.history.rows] == [r["epoch"] for r in run.history.rows]
    assert back.history.backprop == "hand"
    # Schema holds tensors, so no dataclass ==: each field against what digits is, then the stats bit for bit.
    s, b = run.schema, back.schema
    assert (b.name, b.task, b.input_shape, b.output_size, b.labels, b.image_shape) == \
        ("digits", "multiclass", (64,), 10, "index", (8, 8))
    assert b.class_names == tuple(str(d) for d in range(10)) and b.target_stats is None and b.columns is None
    assert s.feature_stats is not None and b.feature_stats is not None
    for ours, theirs in zip(s.feature_stats, b.feature_stats, strict=True):
        assert theirs.dtype == torch.float64 and theirs.shape == (64,) and torch.equal(theirs, ours)
    from sklearn.datasets import load_digits

    raw, labels = load_digits(return_X_y=True)            # raw 0..16 pixels: the stats must be applied on load
    assert (run.predict(raw) == labels).mean() > 0.8       # not chance (0.1): a fair thing to compare
    assert np.array_equal(back.predict(raw), run.predict(raw))
    assert np.array_equal(back.predict_proba(raw), run.predict_proba(raw))
    fig = run.history.plot()
    assert len(fig.axes) == 2
    pytest.importorskip("pandas")
    frame = run.history.to_pandas()
    assert list(frame.index) == [r["epoch"] for r in run.history.rows] and "val_loss" in frame


def recorded_test_predictions(run) -> np.ndarray:
    """What the run itself predicted for its test rows while training evaluated them: its model on the test
    rows as training encoded them, in eval mode."""
    run.model.eval()
    with torch.no_grad():
        out = run.model(run.data.encoded("test").to(next(run.model.parameters()).dtype))
    if run.schema.task == "binary":
        index = (torch.sigmoid(out[:, 0]) >= 0.5).long().numpy()
    else:
        index = out.argmax(dim=1).numpy()
    return np.asarray(run.schema.class_names, dtype=object)[index] if run.schema.labels == "name" else index


def test_predict_on_the_datasets_own_test_rows_is_what_the_run_recorded_for_arrays():
    """The learner's call: digits scaled by hand, a Dataset of arrays, then run.predict(data.x_test). The
    Dataset keeps the rows as given and the run scales them once, so nothing is standardised twice."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    data = mlplab.Dataset.from_arrays(digits.data / 16, digits.target, test_fraction=0.2)
    run = mlplab.train(data, hidden=[64], epochs=8, lr=0.1, progress="quiet", device="cpu")
    pred = run.predict(data.x_test)
    np.testing.assert_array_equal(pred, recorded_test_predictions(run))
    assert (pred == data.y_test.numpy()).mean() == pytest.approx(run.metrics["test_accuracy"])
    assert run.metrics["test_accuracy"] > 0.9


def test_predict_on_the_datasets_own_test_rows_is_what_the_run_recorded_for_a_frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    n = 600
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.lognormal(10, 1, n).round(2),
                          "plan": rng.choice(["basic", "plus", "pro"], n)})
    frame["churned"] = np.where((frame.age < 35) ^ (frame.plan == "pro") ^ (rng.random(n) < 0.1), "yes", "no")
    data = mlplab.Dataset.from_frame(frame, "churned", seed=0, log=lambda m: None)
    assert data.x_test.column_names == ["age", "income", "plan"]      # the rows as given, not encoded
    run = mlplab.train(data, epochs=6, progress="quiet", device="cpu", baselines="none")
    pred = run.predict(data.x_test)
    np.testing.assert_array_equal(pred, recorded_test_predictions(run))
    y = np.asarray(data.class_names, dtype=object)[data.y_test.numpy().ravel().astype(int)]
    assert (pred == y).mean() == pytest.approx(run.metrics["test_accuracy"])
    np.testing.assert_array_equal(run.predict(data.x_test.to_pandas()), pred)   # a DataFrame of them too


@pytest.mark.slow
def test_predict_on_the_datasets_own_test_rows_is_what_the_run_recorded_for_fashion_mnist(fashion_dir):
    data = mlplab.load_dataset("fashion-mnist", data_dir=fashion_dir, val_fraction=0.0)
    small = mlplab.Dataset.from_arrays(data.x_train[:3000], data.y_train[:3000], x_test=data.x_test[:1000],
                                       y_test=data.y_test[:1000], val_fraction=0.0, standardize=False,
                                       class_names=data.class_names, name="fashion-mnist")
    run = mlplab.train(small, hidden=[64], epochs=2, progress="quiet", device="cpu")
    pred = run.predict(small.x_test)
    np.testing.assert_array_equal(pred, recorded_test_predictions(run))
    assert (pred == small.y_test.numpy()).mean() == pytest.approx(run.metrics["test_accuracy"])
    whole = mlplab.train(data, hidden=[32], epochs=1, progress="quiet", device="cpu")  # the set as loaded
    assert (whole.predict(data.x_test) == data.y_test.numpy()).mean() == pytest.approx(whole.metrics["test_accuracy"])


def test_a_run_shows_itself_in_a_few_lines_and_plots_by_class_name(tmp_path):
    """Notebook display: short reprs (not the model, not every row), figures by class name, names on request."""
    data = mlplab.load_dataset("iris")
    run = mlplab.train(data, hidden=[16], epochs=3, progress="quiet", device="cpu")
    text = repr(run)
    assert len(text.splitlines()) == 4 and len(text) < 400, text
    assert "iris" in text and "test_accuracy" in text and "not saved" in text
    assert "<table>" in run._repr_html_() and len(run._repr_html_()) < 1500
    run.history.rows *= 10                                  # 30 rows: the repr shows 4 of them and "..."
    assert len(repr(run.history).splitlines()) == 6 and "History: 30 epochs" in repr(run.history)
    assert run._repr_html_().count("<tr>") == 3 and run.history._repr_html_().count("<tr>") == 1 + 5
    assert repr(data).startswith("Dataset 'iris': multiclass, 3 classes: setosa") and len(repr(data)) < 300
    index = run.predict(data.x_test)
    assert index.dtype.kind == "i" and np.array_equal(run.predict(data.x_test, names=False), index)
    assert list(run.predict(data.x_test[:3], names=True)) == [data.class_names[i] for i in index[:3]]
    confusion = run.plot_confusion()
    assert [t.get_text() for t in confusion.axes[0].get_xticklabels()] == list(data.class_names)
    assert sum(int(t.get_text()) for t in confusion.axes[0].texts) == len(data.x_test)
    assert type(run.plot_curves()).__name__ == "Figure" and type(run.plot_weights()).__name__ == "Figure"
    with pytest.raises(ValueError, match="not images"):
        run.plot_predictions()
    back = mlplab.load_run(run.save(tmp_path / "iris-run"))
    assert f"saved in {tmp_path / 'iris-run'}" in repr(back)
    with pytest.raises(ValueError, match=r"pass them and their labels"):
        back.plot_confusion()
    assert back.plot_confusion(data.x_test, data.y_test).axes[0].title.get_text().endswith(
        f"accuracy {run.metrics['test_accuracy']:.3f}")


def test_a_cnn_runs_figures_describe_the_cnn_and_show_names(tmp_path):
    flat = mlplab.load_dataset("digits")
    data = Dataset.from_arrays(flat.x_train.reshape(-1, 8, 8), flat.y_train, x_test=flat.x_test.reshape(-1, 8, 8),
                               y_test=flat.y_test, val_fraction=0.0, class_names=[f"digit {i}" for i in range(10)])
    run = mlplab.train(data, model="cnn", spec="conv:4:3,relu,flatten", epochs=1, batch_size=64, progress="quiet",
                       device="cpu", out=str(tmp_path), write=True)
    assert "cnn conv 4," in run.title() and "256" not in run.title()
    assert run.plot_curves()._suptitle.get_text() == run.title()
    gallery = run.plot_predictions(n=6)
    titles = [ax.title.get_text() for ax in gallery.axes if ax.title.get_text()]
    predicted = run.predict(data.x_test[:6], names=True)
    assert [t.split("\n")[1] for t in titles] == list(predicted)
    assert "kernels" in run.plot_weights()._suptitle.get_text()
    assert {"learning_curves.png", "predictions.png"} <= {p.name for p in run.path.iterdir()}
