"""Dataset.from_arrays: dtypes, task and classes inferred, seeded stratified splits, training-only scaling,
and one clear error for each kind of bad input."""

import numpy as np
import pytest
import torch

from mlplab.data.dataset import Dataset


def arrays(n=200, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=10.0, scale=4.0, size=(n, d))            # float64, far from standardised
    y = (np.arange(n) % classes).astype(np.int32)
    return x, y


def test_float64_stays_as_given_the_model_takes_float32_and_int32_labels_become_int64():
    x, y = arrays()
    d = Dataset.from_arrays(x, y)
    assert (d.task, d.num_classes, d.output_size, d.input_shape) == ("multiclass", 3, 3, (5,))
    assert d.x_train.dtype == torch.float64 and d.encoded("train").dtype == torch.float32
    assert d.y_train.dtype == torch.int64
    assert (len(d.x_train), len(d.x_val), d.x_test) == (160, 40, None)
    assert d.class_names == ("0", "1", "2") and d.labels == "index"


def test_binary_regression_strings_and_lists():
    x, _ = arrays()
    assert Dataset.from_arrays(x, np.arange(200) % 2).task == "binary"
    reg = Dataset.from_arrays(x, x[:, 0] * 3.0 + 1.0)
    assert reg.task == "regression" and reg.y_train.shape == (160, 1) and reg.target_stats is not None
    names = Dataset.from_arrays(x, np.where(np.arange(200) % 3 == 0, "cat", "dog"))
    assert names.class_names == ("cat", "dog") and names.labels == "name" and names.task == "binary"
    small = Dataset.from_arrays(x.tolist(), (np.arange(200) % 3).tolist(), task="multiclass")
    assert small.num_classes == 3 and small.encoded("train").dtype == torch.float32
    t = Dataset.from_arrays(torch.as_tensor(x), torch.as_tensor(np.arange(200) % 3))
    assert t.num_classes == 3


def test_splits_are_seeded_stratified_and_disjoint():
    x, y = arrays(n=300)
    x[:, 0] = np.arange(300)                                   # an id column, to follow rows through the split
    a = Dataset.from_arrays(x, y, test_fraction=0.2, val_fraction=0.2, seed=3, standardize=False)
    b = Dataset.from_arrays(x, y, test_fraction=0.2, val_fraction=0.2, seed=3, standardize=False)
    c = Dataset.from_arrays(x, y, test_fraction=0.2, val_fraction=0.2, seed=4, standardize=False)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (180, 60, 60)
    ids = [set(s[:, 0].long().tolist()) for s in (a.x_train, a.x_val, a.x_test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(range(300))
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_val, c.x_val)
    for split in (a.y_train, a.y_val, a.y_test):                # stratified: every class in its share
        counts = torch.bincount(split, minlength=3)
        assert counts.max() - counts.min() <= 1


def test_scaling_uses_training_rows_only_and_is_kept_for_predict():
    x, y = arrays()
    d = Dataset.from_arrays(x, y, test_fraction=0.2)
    scaled = d.encoded("train")                                 # what the model takes: scaled by the training rows
    assert scaled.mean(0).abs().max() < 1e-5 and (scaled.std(0, unbiased=False) - 1).abs().max() < 1e-4
    # the split depends on y and the seed only: an id column in front shows which rows went where
    ids = Dataset.from_arrays(np.c_[np.arange(200), x], y, test_fraction=0.2, standardize=False)
    train_rows = ids.x_train[:, 0].long().numpy()
    test_rows = ids.x_test[:, 0].long().numpy()
    np.testing.assert_allclose(d.feature_stats[0].numpy(), x[train_rows].mean(0), rtol=1e-12)
    np.testing.assert_allclose(d.feature_stats[1].numpy(), x[train_rows].std(0), rtol=1e-12)
    x2 = x.copy()
    x2[test_rows] *= 1000                                      # test rows blown up: training rows unchanged
    assert torch.equal(Dataset.from_arrays(x2, y, test_fraction=0.2).encoded("train"), d.encoded("train"))
    # the inputs stay as given; encode() applies the kept statistics to raw rows as training saw them
    assert torch.equal(d.x_test, torch.as_tensor(x[test_rows]))
    assert torch.equal(d.encode(torch.as_tensor(x[test_rows])), d.encoded("test"))


def test_given_validation_and_test_sets_are_used_as_given():
    x, y = arrays(n=100)
    xv, yv = arrays(n=30, seed=1)
    d = Dataset.from_arrays(x, y, x_val=xv, y_val=yv, x_test=xv[:10], y_test=yv[:10])
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (100, 30, 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((5, 2)), y=np.zeros(4, dtype=int)), "x has 5 rows but y has 4"),
    (dict(x=np.array([[1.0, np.nan]] * 10), y=np.arange(10) % 2), "NaN or infinite values (first at index (0, 1))"),
    (dict(x=np.array([[np.inf, 1.0]] * 10), y=np.arange(10) % 2), "x holds 10 NaN or infinite"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2 + 1), "found [1, 2]; map them with"),
    (dict(x=np.zeros((10, 2)), y=np.array([0, 2] * 5)), "class labels must be 0..C−1"),
    (dict(x=np.zeros((10, 2)), y=np.zeros(10, dtype=int)), "at least 2 classes"),
    (dict(x=np.zeros(10), y=np.arange(10) % 2), "x must be 2-D (samples, features)"),
    (dict(x=np.array([["a", "b"]] * 10), y=np.arange(10) % 2), "x must hold numbers"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, val_fraction=0.01), "empty split"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, val_fraction=0.6, test_fraction=0.5), "must be below 1"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, task="ordinal"), "task must be one of"),
    (dict(x=np.zeros((10, 2)), y=np.linspace(0, 1, 10), task="multiclass"), "whole numbers"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 3, task="binary"), "task 'binary' needs labels 0 and 1"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, x_val=np.zeros((3, 2))), "give both x_val and y_val"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, x_val=np.zeros((3, 3)), y_val=np.zeros(3, dtype=int)),
     "x_val rows have shape (3,), x rows (2,)"),
    (dict(x=np.zeros((10, 2)), y=np.arange(10) % 2, x_val=np.zeros((3, 2)), y_val=np.array([0, 1, 5])),
     "val labels must be in 0..1"),
])
def test_bad_input_gets_one_clear_error(kwargs, message):
    x, y = kwargs.pop("x"), kwargs.pop("y")
    with pytest.raises((ValueError, TypeError)) as e:
        Dataset.from_arrays(x, y, **kwargs)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
