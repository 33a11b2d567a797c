"""load_dataset: metadata, seeded stratified splits, standardisation from the training split only."""

import numpy as np
import pytest
import torch
from sklearn import datasets as skd

from mlplab.data import synthetic
from mlplab.data.load import DATASETS, describe, load_dataset


@pytest.mark.parametrize("name, task, classes, shape", [
    ("digits", "multiclass", 10, (64,)),
    ("iris", "multiclass", 3, (4,)),
    ("wine", "multiclass", 3, (13,)),
    ("breast-cancer", "binary", 2, (30,)),
    ("diabetes", "regression", None, (10,)),
])
def test_bundled_metadata(name, task, classes, shape):
    d = load_dataset(name)
    assert (d.task, d.num_classes, d.input_shape) == (task, classes, shape)
    n = sum(len(x) for x in (d.x_train, d.x_val, d.x_test))
    assert n == {"digits": 1797, "iris": 150, "wine": 178, "breast-cancer": 569, "diabetes": 442}[name]
    assert d.x_train.dtype == torch.float32
    if task == "multiclass":
        assert d.y_train.dtype == torch.int64 and d.output_size == classes
    else:
        assert d.y_train.shape == (len(d.x_train), 1) and d.output_size == 1
    assert describe(name) == (d.input_shape, d.task, d.output_size)


def test_splits_are_60_20_20_and_disjoint(monkeypatch):
    # train_test_split rounds the test share up: test ⌈0.2 · 1797⌉ = ⌈359.4⌉ = 360 of 1797, then validation
    # ⌈0.25 · 1437⌉ = ⌈359.25⌉ = 360 of the remaining 1437, leaving 1077 to train on
    d = load_dataset("digits", seed=3)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1077, 360, 360)
    # tag every raw row with its index in an extra column, then check the splits share no index
    real = skd.load_digits

    def tagged():
        bunch = real()
        bunch.data = np.hstack([bunch.data, np.arange(len(bunch.data))[:, None]])
        return bunch

    monkeypatch.setattr(skd, "load_digits", tagged)
    t = load_dataset("digits", seed=3)
    ids = [set(np.round(x[:, -1].numpy(), 3)) for x in (t.x_train, t.x_val, t.x_test)]
    assert sum(map(len, ids)) == 1797 and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_splits_are_seeded():
    a, b, c = load_dataset("iris", seed=1), load_dataset("iris", seed=1), load_dataset("iris", seed=2)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


# Stratified class counts (train, val, test), worked by hand. iris: 50 per class, so 10 of each in test (30) and
# in validation (30 of the other 120). wine: classes 59/71/48; test 36 of 178 expects 11.93/14.36/9.71, floors
# 11/14/9 plus the two largest remainders: 12/14/10; validation 36 of the remaining 47/57/38 expects 11.92/14.45/
# 9.63: again 12/14/10; train keeps 35/43/28.
CLASS_COUNTS = {"iris": ([30, 30, 30], [10, 10, 10], [10, 10, 10]),
                "wine": ([35, 43, 28], [12, 14, 10], [12, 14, 10])}


@pytest.mark.parametrize("name", list(CLASS_COUNTS))
@pytest.mark.parametrize("seed", [0, 1])
def test_splits_are_stratified_exactly(name, seed):
    d = load_dataset(name, seed=seed)
    counts = tuple(torch.bincount(y, minlength=3).tolist() for y in (d.y_train, d.y_val, d.y_test))
    assert counts == CLASS_COUNTS[name]


def test_digits_splits_keep_each_class_share():
    """Stratified: each split holds each class in the whole set's proportion, to rounding (test: within 1 of
    n_c · 360/1797; validation is drawn from the rest, so within 1 + ¼; train takes what is left). A plain shuffled
    split misses by several rows per class."""
    whole = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]   # sklearn's digits, rows per class
    d = load_dataset("digits", seed=0)
    for y, tolerance in ((d.y_test, 1.0), (d.y_val, 1.25), (d.y_train, 2.25)):
        counts = torch.bincount(y, minlength=10).tolist()
        for c, (got, n_c) in enumerate(zip(counts, whole)):
            assert abs(got - n_c * len(y) / 1797) <= tolerance, (len(y), c, got)


def test_digits_standardised_per_column_and_constant_columns_left_at_zero():
    d = load_dataset("digits", seed=0)
    raw = d.x_train                                           # (1077, 64) pixel values 0..16, as given
    varies = raw.std(0) > 1e-3                                # columns that are not constant in the training split
    assert 56 <= int(varies.sum()) <= 61                      # pixels 0, 32 and 39 are blank in every digit
    assert not varies[[0, 32, 39]].any()
    scaled = d.encoded("train")                               # what the model takes
    mean, std = scaled.mean(0), scaled.std(0, unbiased=False)
    torch.testing.assert_close(mean[varies], torch.zeros(int(varies.sum())), atol=1e-5, rtol=0)
    torch.testing.assert_close(std[varies], torch.ones(int(varies.sum())), atol=1e-4, rtol=0)
    assert torch.all(scaled[:, ~varies] == 0)                 # constant: centred to 0, not divided by zero
    assert torch.isfinite(d.encoded("val")).all() and torch.isfinite(d.encoded("test")).all()


def test_standardised_with_training_statistics_only():
    d = load_dataset("wine", seed=0)
    scaled = d.encoded("train")
    mean, std = scaled.mean(0), scaled.std(0, unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(13), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, torch.ones(13), atol=1e-4, rtol=0)
    # the test split was transformed with the training statistics, so it is NOT exactly standard
    assert d.encoded("test").mean(0).abs().max() > 1e-3


def test_no_leakage_changing_test_rows_does_not_change_train_features(monkeypatch):
    """If the scaler saw test rows, blowing them up would shift the training features."""
    from sklearn.model_selection import train_test_split

    real = skd.load_iris
    clean = load_dataset("iris", seed=0)
    _, test_idx = train_test_split(np.arange(150), test_size=0.2, random_state=0, stratify=real().target)

    def corrupted():
        bunch = real()
        bunch.data = bunch.data.copy()
        bunch.data[test_idx] *= 1000.0
        return bunch

    monkeypatch.setattr(skd, "load_iris", corrupted)
    dirty = load_dataset("iris", seed=0)
    assert torch.equal(clean.encoded("train"), dirty.encoded("train"))
    assert torch.equal(clean.encoded("val"), dirty.encoded("val"))
    assert not torch.equal(clean.encoded("test"), dirty.encoded("test"))


def test_regression_target_standardised():
    d = load_dataset("diabetes")
    assert abs(d.y_train.mean().item()) < 1e-5 and abs(d.y_train.std(unbiased=False).item() - 1) < 1e-4


def test_val_fraction_zero_has_no_validation_split():
    d = load_dataset("digits", val_fraction=0)
    assert d.x_val is None and list(d.encoded_splits()) == ["train", "test"]
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("digits", val_fraction=0.9)


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(ValueError) as e:
        load_dataset("cifar")
    assert all(name in str(e.value) for name in DATASETS)


def test_synthetic_linear_recovers_known_weights():
    w = torch.tensor([2.0, -3.4])
    x, y = synthetic.linear(1000, w, 4.2, noise=0.01, seed=0)
    design = torch.cat([x, torch.ones(len(x), 1)], 1).double()
    coef = torch.linalg.lstsq(design, y.double()).solution.squeeze()
    torch.testing.assert_close(coef, torch.tensor([2.0, -3.4, 4.2], dtype=torch.float64), atol=2e-3, rtol=0)
    residual = y - (x @ w.reshape(-1, 1) + 4.2)
    assert 0.008 < residual.std().item() < 0.012          # the noise is N(0, 0.01²)


def test_polynomial_features_and_labels():
    f = synthetic.polynomial_features(torch.tensor([2.0]), degree=5)
    torch.testing.assert_close(f, torch.tensor([[1.0, 2.0, 2.0, 8 / 6, 16 / 24]]))
    feats, y = synthetic.polynomial(500, torch.tensor([5.0, 1.2, -3.4, 5.6]), seed=1)
    assert feats.shape == (500, 20) and y.shape == (500, 1)
    clean = feats[:, :4] @ torch.tensor([[5.0], [1.2], [-3.4], [5.6]])
    assert 0.08 < (y - clean).std().item() < 0.12          # N(0, 0.1²) noise
    a, _ = synthetic.polynomial(10, torch.ones(4), seed=7)
    b, _ = synthetic.polynomial(10, torch.ones(4), seed=7)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name, features", [("synthetic-linear", 2), ("polynomial", 20)])
def test_synthetic_datasets_load(name, features):
    # 2,000 rows: test ⌈0.5 · 2000⌉ = 1000, validation ⌈0.4 · 1000⌉ = 400 of the rest, train 600
    d = load_dataset(name, seed=0)
    assert d.task == "regression" and d.output_size == 1 and d.input_shape == (features,)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (600, 400, 1000)
    assert d.y_train.shape == (600, 1) and d.x_train.shape == (600, features)
    rows = torch.cat([d.x_train, d.x_val, d.x_test])
    assert len(torch.unique(rows, dim=0)) == 2000             # disjoint splits of 2,000 distinct rows


def test_fashion_mnist_real_files(fashion_dir):
    d = load_dataset("fashion-mnist", data_dir=fashion_dir)
    assert (len(d.x_train), len(d.x_test)) == (60000, 10000)
    assert d.input_shape == (28, 28) and d.class_names[0] == "t-shirt/top" and d.class_names[9] == "ankle boot"
    assert torch.bincount(d.y_train).tolist() == [6000] * 10
    assert abs(d.x_train.mean().item() - 0.2860) < 1e-3     # SOURCE.md: mean pixel 72.94/255
    assert 0.0 <= d.x_train.min().item() and d.x_train.max().item() <= 1.0


def test_synthetic_data_does_not_share_the_init_stream():
    """The model's init draws from Generator(seed); the data must come from another stream, or with one seed
    for both the first weights would equal the first inputs (as d2l's weight-decay example would show)."""
    d = load_dataset("synthetic-linear", seed=0, val_fraction=0)
    first_draws = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    rows = torch.cat([d.x_train, d.x_test])
    assert not torch.isclose(rows, first_draws[0]).all(dim=1).any()


def test_the_digits_stay_pixels_and_the_model_takes_them_scaled():
    """The Dataset keeps the 0..16 ink as given; standardised digits (each pixel by its own spread), what the
    model takes, look like noise."""
    d = load_dataset("digits", seed=0)
    pixels = d.x_test
    assert torch.equal(pixels, pixels.round()) and pixels.min() == 0 and pixels.max() == 16
    assert not torch.allclose(d.encoded("test"), d.encoded("test").round(), atol=1e-4)
    assert torch.equal(load_dataset("polynomial").encode(torch.ones(1, 2)), torch.ones(1, 2))  # nothing to scale
