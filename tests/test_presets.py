"""mlplab.training.presets: a table run takes its task's preset keys once the table is read, from Python and
from the CLI, except the keys the user set (as keyword, flag, or in a --config file)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")

import mlplab
from mlplab.data.dataset import Dataset
from mlplab.training.presets import BY_TASK, TABLE
from conftest import ONE_THREAD, run_cli


def table_csv(path: Path, task: str, n: int = 300) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = {"regression": (2 * a + b).round(3), "binary": np.where(a + b > 0, "yes", "no"),
         "multiclass": np.array(["p", "q", "r"])[np.digitize(a, [-0.4, 0.4])]}[task]
    path.write_text("a,b,kind,y\n" + "".join(f"{x:.4f},{z:.4f},{'uv'[i % 2]},{t}\n"
                                                for i, (x, z, t) in enumerate(zip(a, b, y))))
    return path


def test_the_task_presets_differ_where_measured():
    # the point of BY_TASK: regression and classification train differently (presets.py's docstring measures it)
    assert BY_TASK["regression"]["dropout"] == (0.0,) and BY_TASK["binary"]["dropout"] == (0.15,)
    assert BY_TASK["regression"]["batch_size"] > BY_TASK["multiclass"]["batch_size"]
    assert not set(TABLE) & set(BY_TASK["regression"])  # one place for each key


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_table_from_python_takes_its_tasks_keys(tmp_path, task, one_torch_thread):
    path = table_csv(tmp_path / "t.csv", task)
    run = mlplab.train(Dataset.from_table(path, "y", log=lambda m: None), epochs=2, progress="quiet", device="cpu")
    assert run.data.task == task
    for key, value in BY_TASK[task].items():
        if key != "epochs":
            assert getattr(run.config, key) == value, key
    assert run.config.epochs == 2 and run.config.schedule == TABLE["schedule"]


def test_a_key_the_user_sets_in_python_is_kept(tmp_path, one_torch_thread):
    data = Dataset.from_table(table_csv(tmp_path / "t.csv", "regression"), "y", log=lambda m: None)
    run = mlplab.train(data, epochs=1, batch_size=32, dropout=[0.15], progress="quiet", device="cpu")
    assert (run.config.batch_size, run.config.dropout, run.config.lr) == (32, (0.15,), BY_TASK["regression"]["lr"])


def test_the_cli_takes_the_tasks_keys_but_keeps_flags_and_config_file_keys(tmp_path):
    path = table_csv(tmp_path / "t.csv", "regression")
    (tmp_path / "c.toml").write_text("lr = 0.01\n")
    out = tmp_path / "runs"
    r = run_cli("train", "--data", str(path), "--target", "y", "--epochs", "1", "--dropout", "0.15",
                "--config", str(tmp_path / "c.toml"), "--out", str(out), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    saved = tomllib.loads((folder / "config.toml").read_text())
    assert saved["batch_size"] == BY_TASK["regression"]["batch_size"]  # the task's
    assert saved["dropout"] == [0.15] and saved["lr"] == 0.01 and saved["epochs"] == 1  # the user's
