"""mlplab cv: stratified folds, per-fold standardisation (or a table's preprocessing) from the fold's training
rows, the table and folder."""

from __future__ import annotations

import csv
import tomllib

import numpy as np
import pyarrow.csv
import pytest
import torch
from conftest import ONE_THREAD

import mlplab
from mlplab.config import TrainConfig
from mlplab.data.load import fold_dataset, load_dataset, load_fold
from mlplab.data.split import fold_rows
from mlplab.experiments.cv import cross_validate


def split_indices(pool, folds: int, seed: int):
    return fold_rows(pool.y_train.numpy().reshape(len(pool.y_train), -1)[:, 0], pool.task, pool.name, folds, seed)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_folds_are_stratified_and_partition_the_pool():
    pool = load_dataset("iris", val_fraction=0.0)
    splits = split_indices(pool, 4, seed=0)
    vals = np.concatenate([v for _, v in splits])
    assert sorted(vals) == list(range(len(pool.y_train)))      # every sample validates exactly once
    y = pool.y_train.numpy()
    for tr, va in splits:
        assert set(tr).isdisjoint(va)
        counts = np.bincount(y[va], minlength=3)
        assert counts.max() - counts.min() <= 1                 # 40 per class in the pool: 10 per fold


def test_standardisation_uses_the_folds_training_rows_only():
    pool = load_dataset("wine", val_fraction=0.0)
    tr, va = split_indices(pool, 3, seed=1)[0]
    fold = fold_dataset(pool, tr, va, standardize=True)
    assert torch.equal(fold.x_train, pool.x_train[tr])           # the rows as given; the run scales them
    assert torch.allclose(fold.encoded("train").mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(fold.encoded("train").std(0, unbiased=False), torch.ones(13), atol=1e-4)
    assert fold.encoded("val").mean(0).abs().max() > 1e-3        # the held-out rows were not used to fit
    # the same as standardising the raw features by the fold's training rows
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    raw = load_wine().data
    x_pool, _, _, _ = train_test_split(raw, load_wine().target, test_size=0.2, random_state=0,
                                       stratify=load_wine().target)
    expect = (x_pool[va] - x_pool[tr].mean(0)) / x_pool[tr].std(0)
    np.testing.assert_allclose(fold.encoded("val").numpy(), expect, atol=1e-4)


def test_cross_validate_writes_folds_table_and_curves(tmp_path):
    config = TrainConfig(dataset="iris", hidden=(16,), epochs=15, lr=0.2, batch_size=16, out=str(tmp_path),
                         device="cpu")
    result = cross_validate(config, 3)
    assert len(result.metrics) == 3 and len(result.histories) == 3
    assert all(m["val_accuracy"] > 0.7 for m in result.metrics)
    rows = list(csv.DictReader(open(result.path / "folds.csv")))
    assert [r["fold"] for r in rows] == ["1", "2", "3", "mean", "std"]
    mean = np.mean([m["val_accuracy"] for m in result.metrics])
    assert float(rows[3]["val_accuracy"]) == pytest.approx(mean)
    assert (result.path / "cv_val_loss.png").exists() and (result.path / "fold2" / "metrics.json").exists()
    assert "mean ± std" in result.table
    fold = mlplab.load_run(result.path / "fold2")  # each fold is a run folder
    pool = load_dataset("iris", val_fraction=0.0)
    correct = np.mean(fold.predict(pool.x_test) == pool.y_test.numpy())
    assert correct == pytest.approx(result.metrics[1]["test_accuracy"])  # the fold's own test accuracy


@pytest.mark.parametrize("folds, message", [(1, "folds must be an integer >= 2"),
                                            (41, "smallest class's 40 samples")])
def test_bad_folds_fail_before_writing(tmp_path, folds, message):
    config = TrainConfig(dataset="iris", epochs=1, out=str(tmp_path / "out"))
    with pytest.raises(ValueError, match=message):
        cross_validate(config, folds)
    assert not (tmp_path / "out").exists()


def test_cli_cv_regression(cli, tmp_path):
    r = cli("cv", "--dataset", "diabetes", "--hidden", "8", "--epochs", "2", "--folds", "3", "--out",
            str(tmp_path), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| fold | train_loss | val_loss |" in r.stdout and "mean ± std" in r.stdout


def test_a_fold_keeps_the_pixels_and_scales_them_on_the_way_in():
    pool = load_dataset("digits", seed=0, val_fraction=0.0)
    train_idx, val_idx = next(iter(split_indices(pool, 5, seed=0)))
    fold = fold_dataset(pool, train_idx, val_idx, standardize=True)
    pixels = fold.x_val
    assert torch.equal(pixels, pixels.round()) and pixels.min() == 0 and pixels.max() == 16
    mean, scale = fold.feature_stats
    expect = (pixels.double() - mean) / scale
    assert torch.allclose(fold.encoded("val").double(), expect, atol=1e-6)


@pytest.mark.parametrize("flags, message", [(["--nesterov"], "nesterov needs a momentum"),
                                            (["--optimizer", "adam", "--momentum", "0.5"], "takes no momentum"),
                                            (["--val-fraction", "0.3"], "cv takes no --val-fraction")])
def test_cli_cv_refuses_before_writing(tmp_path, capsys, flags, message):
    from mlplab.cli.main import main

    out = tmp_path / "out"
    assert main(["cv", "--dataset", "iris", "--folds", "2", "--epochs", "1", "--quiet", "--out", str(out),
                 *flags]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists() or list(out.iterdir()) == []


def shop_csv(path, n: int = 150):
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 3.0, size=n).round(2)                  # skewed: each fold's median differs
    colour = rng.choice(["red", "green", "blue"], size=n)
    bought = np.where(a + 2 * (colour == "red") + rng.normal(0, 1, n) > 7, "yes", "no")
    rows = "".join(f"{x},{c},{b}\n" for x, c, b in zip(a, colour, bought))
    path.write_text("a,colour,bought\n" + rows)
    return path, a


def test_a_tables_folds_fit_their_preprocessing_on_their_training_rows(tmp_path):
    from mlplab.data.tabular import pool_rows
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    path, a = shop_csv(tmp_path / "shop.csv")
    config = TrainConfig(data=str(path), target="bought", seed=3)
    y, task, pool, test_rows = pool_rows(str(path), "bought", seed=3)
    splits = fold_rows(y, task, "shop", 3, 3)
    assert task == "binary" and sorted(np.concatenate([va for _, va in splits])) == list(range(len(pool)))
    plain = from_table(path, "bought", val_fraction=0.0, seed=3, log=lambda m: None)
    medians = []
    for i, (tr, va) in enumerate(splits, start=1):
        data = load_fold(config.replace(cv_folds=3, cv_fold=i))
        assert (len(data.x_train), len(data.x_val)) == (len(tr), len(va))
        assert np.array_equal(data.y_test.numpy(), plain.y_test.numpy())   # the test rows from_table holds out
        assert len(test_rows) == len(plain.y_test) == 30
        medians.append(data.columns.fill[0])
        assert medians[-1] == np.median(a[pool[tr]])                      # the fold's own training rows
    assert len(set(medians)) > 1


def test_cli_cv_on_a_table_file(cli, tmp_path):
    path, _ = shop_csv(tmp_path / "shop.csv")
    r = cli("cv", "--data", str(path), "--target", "bought", "--folds", "3", "--epochs", "2",
            "--out", str(tmp_path / "runs"), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| mean ± std |" in r.stdout and "| 3 |" in r.stdout and "val_roc_auc" in r.stdout
    (folder,) = (tmp_path / "runs").glob("*-cv-shop")
    assert sorted(p.name for p in folder.glob("fold[0-9]")) == ["fold1", "fold2", "fold3"]
    saved = tomllib.loads((folder / "config.toml").read_text())
    assert saved["hidden"] == [256, 256, 256] and saved["dropout"] == [0.15]  # the table's preset, as train's
    run = mlplab.load_run(folder / "fold3")                    # a fold is a run folder: it predicts raw rows
    assert run.predict(pyarrow.csv.read_csv(path)).shape == (150,)


def test_a_full_disk_at_any_point_leaves_no_cv_folder_or_one_that_says_what_it_keeps(tmp_path, capsys):
    """``mlplab cv --out`` on a real tmpfs filled but for 0 B .. 200 KiB: one line naming the file, exit 2; no cv
    folder when no fold trained, else one with cv.json whose every fold can be resumed."""
    from conftest import full_disks, small_table, study_folder_kept

    data = small_table(tmp_path / "t.csv")
    argv = ["cv", "--data", str(data), "--target", "y", "--epochs", "1", "--hidden", "8", "--folds", "2", "--quiet",
            "--baselines", "none"]
    # cv.json, config.toml, fold 1, its plots, fold 2
    kept = {study_folder_kept(out, err, "cv.json", "folds finished", "fold*/config.toml")
            for out, err in full_disks(tmp_path, capsys, argv, (0, 4 << 10, 16 << 10, 64 << 10, 200 << 10))}
    assert kept == {False, True}  # gone, and kept


@pytest.mark.parametrize("flags, message", [(["--lr", "1e30"], "became nan"),
                                            (["--init", "normal:1e30"], "training loss became nan")])
def test_a_cv_that_fails_before_its_first_fold_leaves_nothing(tmp_path, capsys, flags, message):
    """A setting refused only once fold 1 trains (its loss turns NaN): no cv folder is left (it held cv.json and
    config.toml)."""
    from mlplab.cli.main import main

    out = tmp_path / "out"
    assert main(["cv", "--dataset", "iris", "--folds", "2", "--epochs", "1", "--hidden", "4", "--quiet", "--out",
                 str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_sigterm_after_a_fold_saved_an_epoch_keeps_a_cv_folder_whose_fold_resumes(tmp_path):
    """A real ``mlplab cv`` sent SIGTERM while fold 1 trains: one line naming what the folder keeps, exit 143, no
    traceback, no temporary or lock note; the fold passes resume's checks (test_train resumes one for real)."""
    from conftest import half_written, last_error, small_table, terminated

    from mlplab.runs.checkpoint import load_checkpoint, resume_config

    data, out = small_table(tmp_path / "t.csv"), tmp_path / "out"
    done = terminated(["cv", "--data", str(data), "--target", "y", "--epochs", "500", "--hidden", "8", "--folds",
                       "2", "--quiet", "--baselines", "none", "--schedule", "none", "--out", str(out)], out, 0.1,
                      ready="fold1/history.csv")  # its first epoch saved
    err = last_error(done.stderr)
    assert done.returncode == 143 and "0 of 2 folds finished" in err, err
    assert half_written(out) == [] and not list(out.rglob(".lock")), half_written(out)
    fold = next(out.glob("*/fold1"))
    assert f"mlplab train --resume {fold}" in err, err
    assert resume_config(fold, {"epochs": load_checkpoint(fold).epoch + 1}).cv_fold == 1
