"""mlplab.data.columns and mlplab.data.target (and their use in mlplab.data.tabular): what is learned from
the training rows only, what is saved and loaded back, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from mlplab.data.columns import Columns  # noqa: E402
from mlplab.data.target import Target, leaks  # noqa: E402


def table(**cols):
    return pa.table(cols)


def fitted(t, target="y", **options):
    return Columns.fit(t, Target.detect(t.column(target), target), **options)


def test_numeric_robust_scaling_and_smooth_clip_from_training_rows():
    t = table(x=[1.0, 2.0, 3.0, 4.0, None], y=["a", "b", "a", "b", "a"])
    c = fitted(t)
    # median 2.5, q25 1.75, q75 3.25: z = (x − 2.5) / 1.5, then z / sqrt(1 + (z/3)²); missing → median + indicator
    x = np.array([1.0, 100.0, None])
    out = c.transform(table(x=pa.array(x, pa.float64()).fill_null(np.nan).cast(pa.float64()), y=["a"] * 3), log=print)
    z = (np.array([1.0, 100.0]) - 2.5) / 1.5
    np.testing.assert_allclose(out[:2, 0], z / np.sqrt(1 + (z / 3) ** 2), rtol=1e-6)
    assert out[1, 0] < 3  # an outlier is squashed below 3
    assert c.columns[0].indicator and out[:, 1].tolist() == [0, 0, 1]
    assert out[2, 0] == 0  # the median


def test_statistics_come_from_the_rows_fitted_on_only():
    train = table(x=[0.0, 1.0, 2.0, 3.0, 4.0], y=[0, 1, 0, 1, 0])
    c = fitted(train)
    other = table(x=[1000.0, 2000.0], y=[0, 1])
    assert c.center[0] == 2.0 and c.factor[0] == 0.5  # from train: median 2, IQR 2
    assert np.isfinite(c.transform(other)).all()


def test_categories_other_slot_unseen_values_and_notice():
    t = table(color=["red"] * 5 + ["blue"] * 4 + ["rare"] + [None], y=list(range(2)) * 5 + [0])
    c = fitted(t)
    assert c.columns[0].categories == ("red", "blue") and c.width == 3
    notes = []
    out = c.transform(table(color=["blue", "green", None, "red"], y=[0, 0, 0, 0]), log=notes.append)
    assert out.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]]
    assert len(notes) == 1 and "1 cells held values rare or unseen" in notes[0] and "color (1)" in notes[0]


def test_integers_with_few_values_and_booleans_are_categories_overrides_win():
    t = table(k=[1, 2, 3, 1, 2, 3] * 2, b=[True, False, False] * 4, n=list(range(12)), y=[0, 1] * 6)
    c = fitted(t)
    assert [col.kind for col in c.columns] == ["categorical", "categorical", "numeric"]
    c = fitted(t, numeric=["k"], categorical=["n"], drop=["b"])
    assert [(col.name, col.kind) for col in c.columns] == [("k", "numeric"), ("n", "categorical")]
    with pytest.raises(ValueError, match=r"--drop names column\(s\) \['zz'\].*its columns: k, b, n, y"):
        fitted(t, drop=["zz"])


def test_constant_and_all_missing_columns_are_dropped_with_a_reason():
    t = table(c=[7.0] * 4, m=pa.array([None] * 4, pa.float64()), s=["u"] * 4, x=[1.0, 2, 3, 4], y=[0, 1, 0, 1])
    c = fitted(t)
    assert [col.name for col in c.columns] == ["x"] and set(c.ignored) == {"c", "m", "s"}
    assert any("c: dropped: constant (7)" == line for line in c.report)
    assert any("m: dropped: every cell is missing" == line for line in c.report)
    with pytest.raises(ValueError, match="no usable feature columns"):
        fitted(t.drop_columns(["x"]))


def test_task_detection_says_why():
    assert Target.detect(pa.chunked_array([["N", "Y", "N"]]), "y").reason == "task: binary (target y has 2 values: N, Y)"
    assert Target.detect(pa.chunked_array([[3, 1, 2]]), "k").task == "multiclass"
    assert Target.detect(pa.chunked_array([list(range(50))]), "price").task == "regression"
    assert Target.detect(pa.chunked_array([[1.5, 2.5]]), "v").task == "regression"
    with pytest.raises(ValueError, match="holds one value only"):
        Target.detect(pa.chunked_array([["a", "a"]]), "y")
    with pytest.raises(ValueError, match="task regression needs a numeric target"):
        Target.detect(pa.chunked_array([["a", "b"]]), "y", "regression")


def test_unseen_target_labels_are_named():
    spec = Target.detect(pa.chunked_array([["no", "yes"]]), "y")
    assert spec.encode(pa.chunked_array([["yes", "no"]])).tolist() == [1, 0]
    with pytest.raises(ValueError, match="labels never seen in training: maybe; the run knows no, yes"):
        spec.encode(pa.chunked_array([["yes", "maybe"]]))


def test_a_relabelled_target_is_refused_unless_allowed():
    t = table(alive=["no", "yes", "yes", "no"], x=[1.0, 2, 3, 4], survived=[0, 1, 1, 0])
    spec = Target.detect(t.column("survived"), "survived")
    assert leaks(t, spec) == [("alive", "relabels the target one to one")]
    with pytest.raises(ValueError, match="column 'alive' relabels the target one to one 'survived'.*--drop alive"):
        Columns.fit(t, spec)
    c = Columns.fit(t, spec, allow_leak=["alive"])
    assert any("alive: kept although" in line for line in c.report)
    reg = table(price2=[1.0, 5, 3], x=[1.0, 0, 2], price=[10.0, 50, 30])
    assert leaks(reg, Target.detect(reg.column("price"), "price", "regression")) == [
        ("price2", "is a linear function of the target")]


def test_missing_columns_are_named_extra_ones_noticed_once():
    t = table(a=[1.0, 2, 3, 4], b=["u", "v", "v", "v"], y=[0, 1, 0, 1])
    c = fitted(t)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['b'\]"):
        c.transform(table(a=[1.0]))
    notes = []
    c.transform(table(a=[1.0], b=["u"], extra=[3], more=[4]), log=notes.append)
    assert notes[0] == "ignored 2 column(s) the run was not trained with: extra, more"


def test_save_and_load_round_trip_through_json_and_arrays():
    t = table(a=[1.0, None, 3, 4, 9], b=["u", "v", "u", "v", "u"], k=[1, 2, 1, 2, 1], y=["p", "q", "p", "q", "r"])
    c = fitted(t)
    meta, arrays = c.to_files()
    meta = json.loads(json.dumps(meta))  # JSON-able
    back = Columns.from_files(meta, {k: np.array(v) for k, v in arrays.items()})
    np.testing.assert_array_equal(back.transform(t, log=print), c.transform(t, log=print))
    assert back.target == c.target and back.report == c.report


def test_dataset_from_frame_fits_on_training_rows_and_predicts_names(one_torch_thread, tmp_path):
    pd = pytest.importorskip("pandas")
    import mlplab
    from mlplab.data.tabular import from_frame

    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df = pd.DataFrame({"x": x, "g": rng.choice(["a", "b"], 300), "label": np.where(x > 0, "pos", "neg")})
    d = from_frame(df, "label", seed=0)
    assert d.task == "binary" and d.class_names == ("neg", "pos") and d.input_shape == (4,)
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 300
    # centred on the training rows' median (encoded median 0), which is not that of all 300 rows
    assert abs(float(d.x_train[:, 0].median() if len(d.x_train) % 2 else np.median(d.x_train[:, 0].numpy()))) < 1e-6
    assert d.columns.fill[0] != np.median(df["x"])
    run = mlplab.train(d, epochs=30, batch_size=32, hidden=[32], progress="quiet", device="cpu")
    pred = run.predict(df.iloc[:50])
    assert set(pred) <= {"neg", "pos"} and (pred == df["label"].iloc[:50].to_numpy()).mean() > 0.85
    back = mlplab.load_run(run.save(tmp_path / "run"))  # the preprocessor travels with the run (JSON + safetensors)
    assert back.predict(df.iloc[:50]).tolist() == pred.tolist()
    np.testing.assert_allclose(back.predict_proba(pa.Table.from_pandas(df.iloc[:50])), run.predict_proba(df.iloc[:50]))
    assert not list(tmp_path.glob("run/*.pkl")) and "columns" in json.loads((tmp_path / "run" / "data.json").read_text())
