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
    from mlplab.data.dataset import Dataset
    from_frame = Dataset.from_frame

    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df = pd.DataFrame({"x": x, "g": rng.choice(["a", "b"], 300), "label": np.where(x > 0, "pos", "neg")})
    d = from_frame(df, "label", seed=0)
    assert d.task == "binary" and d.class_names == ("neg", "pos") and d.input_shape == (4,)
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 300
    # centred on the training rows' median (encoded median 0), which is not that of all 300 rows
    x_train = d.encoded("train")  # the training rows as the model takes them
    assert abs(float(x_train[:, 0].median() if len(x_train) % 2 else np.median(x_train[:, 0].numpy()))) < 1e-6
    assert d.columns.fill[0] != np.median(df["x"])
    run = mlplab.train(d, epochs=30, batch_size=32, hidden=[32], progress="quiet", device="cpu")
    pred = run.predict(df.iloc[:50])
    assert set(pred) <= {"neg", "pos"} and (pred == df["label"].iloc[:50].to_numpy()).mean() > 0.85
    back = mlplab.load_run(run.save(tmp_path / "run"))  # the preprocessor travels with the run (JSON + safetensors)
    assert back.predict(df.iloc[:50]).tolist() == pred.tolist()
    np.testing.assert_allclose(back.predict_proba(pa.Table.from_pandas(df.iloc[:50])), run.predict_proba(df.iloc[:50]))
    assert not list(tmp_path.glob("run/*.pkl")) and "columns" in json.loads((tmp_path / "run" / "data.json").read_text())


# --- row IDs, dates, numbers with units, many levels (issue 20) -------------------------------------------

def practical_table(n=3000, seed=0):
    """An ID, ISO dates with times, money as "1,234.50 €", a 5,000-level category, a float, a target."""
    import datetime

    rng = np.random.default_rng(seed)
    start = datetime.datetime(2020, 1, 1)
    when = [start + datetime.timedelta(days=int(d), minutes=int(m)) for d, m in
            zip(rng.integers(0, 1500, n), rng.integers(0, 1440, n))]
    cents = rng.integers(1, 10**8, n)
    return pa.table({"id": np.arange(n) + 1000, "when": [w.strftime("%Y-%m-%d %H:%M:%S") for w in when],
                     "price": [f"{c // 100:,}.{c % 100:02d} €" for c in cents],
                     "shop": [f"shop{v}" for v in rng.integers(0, 5000, n)],
                     "x": rng.normal(size=n), "y": rng.normal(size=n)}), when, cents / 100


def test_a_row_id_is_dropped_and_named_and_kept_with_keep():
    t, _, _ = practical_table(300)
    c = fitted(t)
    assert "id" not in [col.column for col in c.columns] and "id" in c.ignored
    assert "id: dropped, unique per row (a row ID: consecutive integers); keep it with --keep id" in c.report
    kept = fitted(t, keep=["id"])
    assert [col.name for col in kept.columns if col.column == "id"] == ["id"]
    shuffled = np.random.default_rng(1).permutation(300) * 1000  # all distinct, sparse, unordered: a measure
    assert "id" in [col.name for col in fitted(t.set_column(0, "id", pa.array(shuffled))).columns]
    prices = table(p=np.random.default_rng(2).normal(size=300), y=np.arange(300) % 2)  # floats all distinct
    assert [col.name for col in fitted(prices).columns] == ["p"]
    names = table(name=[f"person {i}" for i in range(300)], x=np.arange(300) % 7 * 1.5, y=np.arange(300) % 2)
    assert "name: dropped, unique per row (a row ID or free text); keep it with --keep name" in fitted(names).report
    with pytest.raises(ValueError, match=r"--keep names column\(s\) \['zz'\]"):
        fitted(t, keep=["zz"])


def test_dates_become_their_parts_checked_against_the_calendar():
    t, when, _ = practical_table(500)
    c = fitted(t)
    parts = {col.name.split(".")[1]: k for k, col in enumerate(c.columns) if col.column == "when"}
    assert list(parts) == ["year", "month", "day", "weekday", "hour", "minute", "days"]
    numeric, _ = cells_of(c, t)
    k = [i for i, col in enumerate(col for col in c.columns if col.kind == "numeric") if col.column == "when"]
    got = dict(zip(parts, numeric[:, k].T))
    assert got["year"].tolist() == [w.year for w in when] and got["month"].tolist() == [w.month for w in when]
    assert got["day"].tolist() == [w.day for w in when] and got["weekday"].tolist() == [w.weekday() for w in when]
    assert got["hour"].tolist() == [w.hour for w in when] and got["minute"].tolist() == [w.minute for w in when]
    assert got["days"].tolist() == [(w.date() - w.date().replace(1970, 1, 1)).days for w in when]
    assert any(line.startswith("when: dates (") and "read as year, month" in line for line in c.report)


@pytest.mark.parametrize("cells, values, decimal", [
    (["1,234", "12", "3,456,789"], [1234, 12, 3456789], "."),
    (["$1,234.50", "-$3", "$0.5"], [1234.5, -3, 0.5], "."),
    (["45 %", "3.5%", "100 %"], [45, 3.5, 100], "."),
    (["1 234", "12", "7 000 000"], [1234, 12, 7e6], "."),
    (["1,5", "12,75", "3"], [1.5, 12.75, 3], ","),
    (["1.234,50 kg", "3 kg", "0,25 kg"], [1234.5, 3, 0.25], ","),
])
def test_numbers_with_units_or_separators_are_numbers(cells, values, decimal):
    from mlplab.data.units import numbers, unit_format

    col = pa.chunked_array([cells * 10])
    assert unit_format(col)[0] == decimal
    assert numbers(col, decimal)[:3].tolist() == values


@pytest.mark.parametrize("cells", [["s1", "s2", "s3"], ["12 kg", "3 lb", "4 kg"], ["07", "12", "3"], ["a", "1", "2"]])
def test_codes_and_mixed_units_are_not_numbers(cells):
    from mlplab.data.units import unit_format

    assert unit_format(pa.chunked_array([cells * 10])) is None


def test_a_money_column_is_parsed_exactly_and_says_so():
    t, _, money = practical_table(400)
    c = fitted(t)
    price = next(col for col in c.columns if col.name == "price")
    assert price.kind == "numeric" and price.read == "units:."
    numeric, _ = cells_of(c, t)
    k = [col.name for col in c.columns if col.kind == "numeric"].index("price")
    np.testing.assert_array_equal(numeric[:, k], money)
    assert any(line.startswith("price: numbers with units (€) read as numeric") for line in c.report)


def cells_of(c, t):
    from mlplab.data.cells import cells

    return cells(c, t, lambda m: None)


def test_many_levels_get_their_smoothed_target_mean_from_the_training_rows():
    from mlplab.data.target_encoding import FOLDS, SMOOTHING

    t, _, _ = practical_table(20000)
    rows = np.arange(0, 20000, 2)  # the training rows: every other one
    c = Columns.fit(t, Target.detect(t.column("y"), "y"), rows=rows, seed=3)
    te = next(col for col in c.columns if col.name == "shop.mean")
    shop, y = np.array(t.column("shop").to_pylist()), t.column("y").to_numpy()
    train_shop, train_y, prior = shop[rows], y[rows], y[rows].mean()

    def mean_of(level, among):  # by hand: (Σ y + m · prior) / (rows + m) over the level's rows in ``among``
        hit = train_shop[among] == level
        return (train_y[among][hit].sum() + SMOOTHING * train_y[among].mean()) / (hit.sum() + SMOOTHING)

    numeric, _ = cells_of(c, t)
    k = [col.name for col in c.columns if col.kind == "numeric"].index("shop.mean")
    everyone = np.ones(len(rows), bool)
    for r in (1, 3, 5, 7):  # rows not trained on: the means of all the training rows
        np.testing.assert_allclose(numeric[r, k], mean_of(shop[r], everyone), rtol=1e-12)
    unseen = t.slice(0, 1).set_column(3, "shop", pa.array(["no such shop"]))
    assert cells_of(c, unseen)[0][0, k] == pytest.approx(prior, rel=1e-12)
    fold = np.random.default_rng(3).permutation(len(rows)) % FOLDS  # the training rows: out of fold
    for i in (0, 1, 2, 500):
        np.testing.assert_allclose(c.out_of_fold_["shop.mean"][i], mean_of(train_shop[i], fold != fold[i]),
                                   rtol=1e-12)
    assert len(te.levels) == len(set(train_shop)) > 4000
    assert c.columns[[col.name for col in c.columns].index("shop")].kind == "categorical"  # the top-32 one-hot too
    assert any(line.startswith(f"shop: {len(te.levels)} levels also encoded by their smoothed target mean")
               for line in c.report)


def test_class_rates_per_class_for_many_levels():
    rng = np.random.default_rng(0)
    level = rng.integers(0, 200, 4000)
    t = table(g=[f"g{v}" for v in level], x=rng.normal(size=4000), y=np.array(["a", "b", "c"])[level % 3])
    c = fitted(t)
    assert [col.name for col in c.columns if col.read == "means"] == ["g.rate.a", "g.rate.b", "g.rate.c"]
    numeric, _ = cells_of(c, t)
    rates = numeric[:, [col.name for col in c.columns if col.kind == "numeric"].index("g.rate.a")]
    assert rates[level % 3 == 0].min() > 0.5 > 0.25 > rates[level % 3 != 0].max()  # class a levels: rate high


def test_issue_20_columns_round_trip_to_identical_matrices():
    t, _, _ = practical_table(6000)
    c = fitted(t)
    meta, arrays = c.to_files()
    meta = json.loads(json.dumps(meta))
    back = Columns.from_files(meta, {k: np.array(v) for k, v in arrays.items()})
    np.testing.assert_array_equal(back.transform(t, lambda m: None), c.transform(t, lambda m: None))
    assert {col.read.split(":")[0] for col in back.columns} == {"", "date", "units", "means"}
    pd = pytest.importorskip("pandas")  # a DataFrame at predict time, dates as text: the same numbers
    frame = t.slice(0, 50).to_pandas()
    np.testing.assert_array_equal(back.transform(pa.Table.from_pandas(frame), lambda m: None),
                                  c.transform(t.slice(0, 50), lambda m: None))
    assert pd is not None


def test_an_integer_target_read_as_classes_says_how_to_ask_for_a_regression():
    reason = Target.detect(pa.chunked_array([[1, 2, 3, 4, 5, 6, 3]]), "score").reason
    assert reason == ("task: multiclass (target score has 6 integer values: 1..6); for a regression pass "
                      "--task regression")
    assert "--task regression" not in Target.detect(pa.chunked_array([["a", "b", "c"]]), "y").reason
