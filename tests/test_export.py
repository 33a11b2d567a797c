"""mlplab.runs.export and ``mlplab export``: ONNX and TorchScript files that take raw rows and give back what
mlplab predicts (to 1e-5), for each task, both implementations, dropout, image-shaped inputs, every activation;
and every error path in one line."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import mlplab
from mlplab.cli.main import main
from mlplab.models.activations import ACTIVATIONS, Activation
from mlplab.runs.export import export, exportable_model

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.load.*is deprecated:DeprecationWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(5, 3, (300, 8))                 # float64, far from standardised: mean 5, std 3
NEW_ROWS = RNG.normal(5, 3, (50, 8))           # rows neither training nor the export's own check saw


def train(x, y, task=None, **config):
    data = mlplab.Dataset.from_arrays(x, y, task=task, test_fraction=0.2)
    return mlplab.train(data, epochs=3, progress="quiet", write=False, **config)


RUNS = {  # name -> (make run, raw rows to compare on)
    "multiclass": (lambda: train(X, (X[:, 0] > 5).astype(int) + (X[:, 1] > 5), hidden=[16, 8], dropout=[0.2]),
                   NEW_ROWS),
    "binary": (lambda: train(X, (X[:, 0] > 5).astype(int), task="binary", hidden=[16]), NEW_ROWS),
    "regression": (lambda: train(X, 100 * X[:, 0] + 7, hidden=[16]), NEW_ROWS),
    "scratch": (lambda: train(X, (X[:, 0] > 5).astype(int) + (X[:, 1] > 5), impl="scratch", hidden=[16],
                              activation=["gelu"], dropout=[0.3]), NEW_ROWS),
    "nll-no-hidden": (lambda: train(X, (X[:, 0] > 5).astype(int) + (X[:, 1] > 5), loss="nll", hidden=[]),
                      NEW_ROWS),
    "bce-scratch": (lambda: train(X, (X[:, 0] > 5).astype(int), task="binary", loss="bce", impl="scratch",
                                  hidden=[8]), NEW_ROWS),
    "images": (lambda: train(RNG.uniform(0, 1, (100, 28, 28)), np.arange(100) % 3, hidden=[16]),
               RNG.uniform(0, 1, (20, 28, 28))),
}


@pytest.fixture(scope="module")
def runs():
    torch.set_num_threads(1)
    return {name: make() for name, (make, _) in RUNS.items()}


def mlplab_answer(run, x) -> np.ndarray:
    x = x.astype(np.float32)  # what the file takes; the same numbers for both
    return run.predict(x).reshape(len(x), -1) if run.schema.task == "regression" else run.predict_proba(x)


def load_and_run(path: Path, fmt: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"inputs": x})
        return out
    return torch.jit.load(str(path))(torch.from_numpy(x)).detach().numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", list(RUNS))
def test_round_trip_matches_mlplab(runs, name, fmt, tmp_path):
    run, rows = runs[name], RUNS[name][1]
    path = tmp_path / f"model.{fmt}"
    diff = export(run, fmt, path)
    assert 0 <= diff < (1e-5 if run.schema.task != "regression" else 1e-2)  # regression: values ~1000, rtol 1e-5
    got, want = load_and_run(path, fmt, rows), mlplab_answer(run, rows)
    torch.testing.assert_close(torch.from_numpy(got).double(), torch.from_numpy(want).double(), atol=1e-5, rtol=1e-5)
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    assert meta["task"] == run.schema.task and meta["format"] == fmt and meta["mlplab_version"] == mlplab.__version__
    assert meta["input"]["shape"] == ["batch", *run.schema.input_shape]
    assert meta["check"]["on"] == ("20 test rows" if name == "images" else "60 test rows")
    assert meta["output"]["name"] == ("values" if name == "regression" else "probabilities")
    assert meta["output"]["shape"] == ["batch", got.shape[1]]


def test_regression_values_are_in_target_units(runs, tmp_path):
    run = runs["regression"]
    export(run, "onnx", tmp_path / "r.onnx")
    got = load_and_run(tmp_path / "r.onnx", "onnx", NEW_ROWS)[:, 0]
    assert np.abs(got - (100 * NEW_ROWS[:, 0] + 7)).mean() < 0.5 * np.abs(100 * NEW_ROWS[:, 0]).mean()
    np.testing.assert_allclose(got, run.predict(NEW_ROWS.astype(np.float32)), rtol=1e-5, atol=1e-5)


def test_batch_size_is_free_and_binary_gives_two_columns(runs, tmp_path):
    export(runs["binary"], "onnx", tmp_path / "b.onnx")
    for n in (1, 7, 123):
        p = load_and_run(tmp_path / "b.onnx", "onnx", RNG.normal(5, 3, (n, 8)))
        assert p.shape == (n, 2)
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-6)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_exports(activation, tmp_path):
    run = train(X[:100], (X[:100, 0] > 5).astype(int), hidden=[8], activation=[activation])
    assert export(run, "onnx", tmp_path / "a.onnx") < 1e-5


def test_exporting_leaves_the_global_rng_alone(runs):
    state = torch.get_rng_state()
    exportable_model(runs["multiclass"])
    assert torch.equal(state, torch.get_rng_state())


def test_loaded_run_is_checked_on_rows_drawn_from_its_statistics(runs, tmp_path):
    runs["multiclass"].save(tmp_path / "run")
    run = mlplab.load_run(tmp_path / "run")
    assert export(run, "torchscript", tmp_path / "m.pt") < 1e-5
    meta = json.loads((tmp_path / "m.pt.json").read_text())
    assert meta["check"]["on"] == "64 rows drawn from the training mean and scale"
    assert meta["run"] == str(tmp_path / "run") and meta["class_names"] == ["0", "1", "2"]


def test_inputs_far_from_their_mean_fail_the_check_and_write_nothing(tmp_path):
    x = 1e6 + RNG.normal(0, 1, (100, 3))  # float32 loses the digits the folded first layer needs
    run = train(x, (x[:, 0] > 1e6).astype(int), hidden=[8])
    with pytest.raises(ValueError, match="differs from mlplab by up to .* nothing was written"):
        export(run, "onnx", tmp_path / "far.onnx")
    assert list(tmp_path.iterdir()) == []


def test_an_activation_onnx_cannot_take_is_named(runs, tmp_path):
    run = train(X[:100], (X[:100, 0] > 5).astype(int), hidden=[8])
    run.model[2] = Activation("cube", {"cube": lambda x: x ** 3})
    with pytest.raises(ValueError, match="activation 'cube' cannot be exported"):
        export(run, "onnx", tmp_path / "c.onnx")


def test_table_runs_are_refused_until_their_columns_can_be_exported(runs, tmp_path):
    run = runs["binary"]  # a Schema with a column preprocessor, as a run trained on a table has
    table = mlplab.Run(run.model, run.config, run.history, run.metrics,
                       dataclasses.replace(run.schema, columns={"colour": "one-hot"}))
    with pytest.raises(ValueError, match="export of table runs needs"):
        export(table, "onnx", tmp_path / "t.onnx")


def test_unknown_format_lists_the_valid_ones(runs, tmp_path):
    with pytest.raises(ValueError, match="unknown format 'tflite'; valid formats: onnx, torchscript"):
        export(runs["binary"], "tflite", tmp_path / "m.tflite")


def test_cli_trains_then_exports_in_real_processes(cli, tmp_path):
    trained = cli("train", "--dataset", "wine", "--epochs", "2", "--out", str(tmp_path / "runs"),
                  env={"OMP_NUM_THREADS": "1"})
    assert trained.returncode == 0, trained.stderr
    folder = trained.stdout.strip().splitlines()[-1].removeprefix("run folder: ")
    exported = cli("export", folder, "--format", "onnx", "--out", str(tmp_path / "m.onnx"),
                   env={"OMP_NUM_THREADS": "1"})
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "m.onnx").is_file()
    assert "onnxruntime matches mlplab to" in exported.stdout and "on 36 test rows" in exported.stdout
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["class_names"] == ["class_0", "class_1", "class_2"] and meta["dataset"] == "wine"
    run = mlplab.load_run(folder)
    rows = np.random.default_rng(1).normal(run.schema.feature_stats[0], run.schema.feature_stats[1], (10, 13))
    np.testing.assert_allclose(load_and_run(tmp_path / "m.onnx", "onnx", rows), mlplab_answer(run, rows),
                               rtol=1e-5, atol=1e-5)


def one_line_error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_cli_unknown_format_is_one_line(capsys, tmp_path):
    line = one_line_error(capsys, "export", str(tmp_path), "--format", "tflite", "--out", str(tmp_path / "m"))
    assert "invalid choice: 'tflite'" in line


def test_cli_not_a_run_folder_is_one_line(capsys, tmp_path):
    line = one_line_error(capsys, "export", str(tmp_path), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert "is not a run folder" in line and not (tmp_path / "m.onnx").exists()


def test_cli_out_is_a_folder_is_one_line(capsys, runs, tmp_path):
    runs["binary"].save(tmp_path / "run")
    line = one_line_error(capsys, "export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path))
    assert "--out must name a file" in line


def test_cli_without_onnxruntime_says_what_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: import raises ImportError
    line = one_line_error(capsys, "export", str(tmp_path), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert "pip install 'mlplab[export]'" in line
