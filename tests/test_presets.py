"""mlplab.training.presets: a table run takes the preset keys of its task and size once the table is read, from
Python and from the CLI, except the keys the user set (as keyword, flag, or in a --config file)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from conftest import ONE_THREAD, run_cli

import mlplab
from mlplab.data.dataset import Dataset
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.training.presets import LARGE_ROWS, REGRESSION_STEPS, table_keys

# The recipe as documented (README, presets' docstring), written out here: a change to it must change this test.
SMALL = {"hidden": (256, 256, 256), "lr": 5e-4, "batch_size": 256, "epochs": 100, "early_stopping": 16}


def table_csv(path: Path, task: str, n: int = 300, numeric: bool = True) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = {"regression": (2 * a + b).round(3), "binary": np.where(a + b > 0, "yes", "no"),
         "multiclass": np.array(["p", "q", "r"])[np.digitize(a, [-0.4, 0.4])]}[task]
    if numeric:
        rows = (f"{x:.4f},{z:.4f},{'uv'[i % 2]},{t}\n" for i, (x, z, t) in enumerate(zip(a, b, y)))
        path.write_text("a,b,kind,y\n" + "".join(rows))
    else:  # categorical columns only
        rows = (f"{'uv'[i % 2]},{'pqrs'[int(x > 0) + 2 * int(z > 0)]},{t}\n" for i, (x, z, t) in enumerate(zip(a, b, y)))
        path.write_text("kind,quadrant,y\n" + "".join(rows))
    return path


def table(path: Path, task: str, n: int = 300, numeric: bool = True) -> Dataset:
    return Dataset.from_table(table_csv(path, task, n, numeric), "y", log=lambda m: None)


def test_small_tables_differ_by_task_in_dropout_smoothing_and_embedding(tmp_path):
    small = {task: table_keys(table(tmp_path / f"{task}.csv", task)) for task in ("regression", "binary", "multiclass")}
    embedding = {"numeric_embedding": 16, "numeric_embedding_sigma": 1.0}
    assert small["binary"] == {**SMALL, "dropout": (0.15,), "label_smoothing": 0.1,
                               "numeric_embedding": 16, "numeric_embedding_sigma": 0.1}  # smoother at the start
    assert small["multiclass"] == {**SMALL, "dropout": (0.15,), "label_smoothing": 0.0, **embedding}
    assert small["regression"] == {**SMALL, "dropout": (0.0,), "label_smoothing": 0.0, **embedding}


def test_large_tables_take_large_batches_and_regression_epochs_for_enough_steps(tmp_path):
    n = 30_000  # 65 % of it trains: 19,500 rows, over LARGE_ROWS
    regression, binary = table(tmp_path / "r.csv", "regression", n), table(tmp_path / "b.csv", "binary", n)
    multiclass = table(tmp_path / "m.csv", "multiclass", n)
    assert len(regression.x_train) >= LARGE_ROWS
    r, b, m = table_keys(regression), table_keys(binary), table_keys(multiclass)
    assert b == {"hidden": (256,), "dropout": (0.0,), "lr": 2e-3, "batch_size": 512, "epochs": 40,
                 "early_stopping": 16, "monitor": "val_accuracy", "label_smoothing": 0.1}  # no embedding
    assert m == {**b, "label_smoothing": 0.0, "numeric_embedding": 16, "numeric_embedding_sigma": 1.0}
    assert r["numeric_embedding"] == 16 and r["batch_size"] == 1024 and r["hidden"] == (64, 64)
    steps = math.ceil(len(regression.x_train) / 1024)  # 20 an epoch
    assert r["epochs"] == 21 and (r["epochs"] - 1) * steps < REGRESSION_STEPS <= r["epochs"] * steps
    diamonds_like = table(tmp_path / "d.csv", "regression", 54_000)  # 35,100 training rows: the floor of 12 epochs
    assert table_keys(diamonds_like)["epochs"] == 12


def test_a_large_table_of_categorical_columns_only_trains_without_an_embedding(tmp_path, one_torch_thread):
    data = table(tmp_path / "c.csv", "regression", 30_000, numeric=False)
    assert "numeric_embedding" not in table_keys(data)  # nothing to embed: the embedding would refuse the table
    run = mlplab.train(data, epochs=1, progress="quiet", device="cpu")
    assert run.config.hidden == (64, 64) and run.config.numeric_embedding == 0
    assert not any(isinstance(m, PeriodicEmbedding) for m in run.model)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_table_from_python_takes_its_keys(tmp_path, task, one_torch_thread):
    data = table(tmp_path / "t.csv", task)
    run = mlplab.train(data, epochs=2, progress="quiet", device="cpu")
    assert run.data.task == task
    for key, value in table_keys(data).items():
        if key != "epochs":
            assert getattr(run.config, key) == value, key
    assert run.config.epochs == 2 and (run.config.schedule, run.config.optimizer) == ("cosine", "adam")


def test_a_key_the_user_sets_in_python_is_kept(tmp_path, one_torch_thread):
    data = table(tmp_path / "t.csv", "regression")
    run = mlplab.train(data, epochs=1, batch_size=32, dropout=[0.15], progress="quiet", device="cpu")
    assert (run.config.batch_size, run.config.dropout, run.config.lr) == (32, (0.15,), SMALL["lr"])


def test_the_cli_takes_the_tables_keys_but_keeps_flags_and_config_file_keys(tmp_path):
    path = table_csv(tmp_path / "t.csv", "regression", 30_000)
    (tmp_path / "c.toml").write_text("lr = 0.01\n")
    out = tmp_path / "runs"
    r = run_cli("train", "--data", str(path), "--target", "y", "--epochs", "1", "--dropout", "0.15",
                "--config", str(tmp_path / "c.toml"), "--out", str(out), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    saved = tomllib.loads((folder / "config.toml").read_text())
    assert saved["batch_size"] == 1024 and saved["hidden"] == [64, 64]  # the large regression table's
    assert saved["dropout"] == [0.15] and saved["lr"] == 0.01 and saved["epochs"] == 1  # the user's
