"""mlplab.runs.export and ``mlplab export``: ONNX and TorchScript files that take raw rows and give back what
mlplab predicts (to 1e-5), for each task, both implementations, dropout, image-shaped inputs, every activation;
runs trained on real tables (penguins, titanic, diamonds) with their column preprocessing inside the graph, fed
from raw cells with missing and unseen values, also by a pandas recipe that reads only FILE.json; and every
error path in one line."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import ONE_THREAD, one_line_error

import mlplab
from mlplab.cli.main import main
from mlplab.models.activations import ACTIVATIONS, Activation
from mlplab.runs.export import export
from mlplab.runs.export_array import exportable_model

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
    "rnn": (lambda: train(RNG.uniform(0, 1, (60, 12, 5)), np.arange(60) % 3, model="rnn", hidden=[8]),
            RNG.uniform(0, 1, (20, 12, 5))),   # sequences (T, D): traced, checked against onnxruntime
    "lstm": (lambda: train(RNG.uniform(0, 1, (60, 12, 5)), np.arange(60) % 3, model="lstm", hidden=[8]),
             RNG.uniform(0, 1, (20, 12, 5))),
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
    assert meta["check"]["on"] == {"images": "20 test rows", "rnn": "12 test rows", "lstm": "12 test rows"}.get(
        name, "60 test rows")
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


# --- runs trained on tables: the column preprocessing inside the graph ----------------------------------------

def table_rows(tables: Path, name: str, rows: int | None = None):
    from mlplab.data.table import read_table

    table = read_table(tables / f"{name}.csv")
    if rows is not None:  # a seeded sample keeps diamonds (54k rows) fast
        table = table.take(np.random.default_rng(0).choice(table.num_rows, rows, replace=False))
    return table


TABLE_RUNS = {  # name -> (file, target, rows, from_table options); small models, two epochs: seconds each
    "penguins": ("penguins", "species", None, {}),                        # multiclass, missing cells
    "titanic": ("titanic", "survived", None, {"drop": ["alive"]}),        # binary, missing cells, booleans
    "diamonds": ("diamonds", "price", 3000, {}),                          # regression in dollars
}


@pytest.fixture(scope="module")
def table_runs(tables):
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    torch.set_num_threads(1)
    out = {}
    for name, (file, target, rows, options) in TABLE_RUNS.items():
        data = from_table(table_rows(tables, file, rows), target, name=name, log=lambda m: None, **options)
        out[name] = mlplab.train(data, epochs=2, hidden=[32, 16], progress="quiet", write=False)
    return out


def odd_rows(table):
    """20 rows of ``table`` with each column's cell missing in one of them, and an unseen text in every text
    column of the last row."""
    import pyarrow as pa

    rows = table.slice(0, 20).to_pylist()
    for i, name in enumerate(table.column_names):
        rows[i % 19][name] = None
        if pa.types.is_string(table.schema.field(name).type):
            rows[19][name] = "never seen in training"
    return pa.Table.from_pylist(rows, schema=table.schema)


def table_answer(run, table) -> np.ndarray:
    if run.schema.task == "regression":
        return run.predict(table).reshape(table.num_rows, -1)
    return run.predict_proba(table)


def run_file(path: Path, fmt: str, feeds: dict) -> np.ndarray:
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, feeds)[0]
    return torch.jit.load(str(path))(*map(torch.from_numpy, feeds.values())).detach().numpy()


def assert_matches(run, got, want):
    """1e-5 (atol and rtol); a regression's atol is 1e-5 of the target's spread, in its units (the check's)."""
    atol = 1e-5 * (float(run.schema.target_stats[1]) if run.schema.task == "regression" else 1.0)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-5, atol=atol)


@pytest.mark.filterwarnings("ignore:.*encoded as 'other'")
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", list(TABLE_RUNS))
def test_table_run_round_trip_matches_mlplab_on_raw_cells(table_runs, tables, name, fmt, tmp_path):
    from mlplab.runs.export_table import graph_inputs

    run, (file, _, rows, _) = table_runs[name], TABLE_RUNS[name]
    path = tmp_path / f"model.{fmt}"
    diff = export(run, fmt, path)
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    assert meta["check"]["on"] == f"{len(run.data.y_test)} test rows" and meta["check"]["max_abs_difference"] == diff
    assert [i["name"] for i in meta["inputs"]] == ["numeric", "categorical"]
    columns = run.schema.columns
    assert meta["inputs"][0]["columns"] == [c.name for c in columns.columns if c.kind == "numeric"]
    assert [c["name"] for c in meta["inputs"][1]["columns"]] == [c.name for c in columns.columns
                                                                 if c.kind == "categorical"]
    new = odd_rows(table_rows(tables, file, rows).slice(100))  # rows of the file, with missing and unseen cells
    feeds = graph_inputs(columns, new)
    others = [c["other"] for c in meta["inputs"][1]["columns"]]
    assert np.isnan(feeds["numeric"]).any() and (feeds["categorical"] == others).any()
    got, want = run_file(path, fmt, feeds), table_answer(run, new)  # mlplab on the table itself, float64 cells
    assert got.shape == want.shape == (20, 1 if name == "diamonds" else 3 if name == "penguins" else 2)
    assert_matches(run, got, want)
    print(f"{name} {fmt}: check {diff:.2g}, odd rows {np.abs(got - want).max():.2g}")


def test_the_graph_encodes_cells_as_columns_encode_does(table_runs, tables):
    from mlplab.data.cells import cells, encode_cells
    from mlplab.runs.export_table import ColumnsGraph, graph_inputs

    columns = table_runs["titanic"].schema.columns
    rows = odd_rows(table_rows(tables, "titanic"))
    numeric, codes = cells(columns, rows, lambda m: None)
    assert np.array_equal(encode_cells(columns, numeric, codes), columns.transform(rows, lambda m: None))  # one formula
    feeds = graph_inputs(columns, rows)
    want = encode_cells(columns, feeds["numeric"].astype(np.float64), feeds["categorical"])
    with torch.no_grad():
        got = ColumnsGraph(columns)(*map(torch.from_numpy, feeds.values())).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)
    other = feeds["categorical"].copy()  # -1, len(categories) and any code out of range: the other slot
    for code in (-1, -7, 10_000):
        other[:] = code
        with torch.no_grad():
            odd = ColumnsGraph(columns)(torch.from_numpy(feeds["numeric"]), torch.from_numpy(other)).numpy()
        others = np.broadcast_to([len(c.categories) for c in columns.columns if c.kind == "categorical"], other.shape)
        np.testing.assert_allclose(odd, encode_cells(columns, feeds["numeric"].astype(np.float64), others), atol=1e-6)


@pytest.mark.filterwarnings("ignore:.*encoded as 'other'")  # titanic's rare parch and deck values
def test_a_pandas_recipe_that_reads_only_the_sidecar_feeds_the_file(table_runs, tables, tmp_path):
    """The module docstring's recipe (mlplab.runs.export_table): pandas cells → inputs, from FILE.json alone."""
    import pandas as pd

    import mlplab.runs.export_table as export_table
    from mlplab.data.table import read_table

    run = table_runs["titanic"]
    export(run, "onnx", tmp_path / "model.onnx")
    recipe = textwrap.dedent(export_table.__doc__.split("runs this recipe on titanic)::\n", 1)[1])
    recipe = recipe.replace('"model.onnx', f'"{tmp_path}/model.onnx').replace('"new.csv"', f'"{tables / "titanic.csv"}"')
    scope = {"json": json, "np": np, "pd": pd, "onnxruntime": onnxruntime}
    exec(recipe, scope)  # the recipe exactly as documented, on the files this test wrote
    got = scope["proba"]
    assert_matches(run, got, run.predict_proba(read_table(tables / "titanic.csv")))


def test_table_runs_without_categorical_columns_take_numeric_only(tables, tmp_path):
    from mlplab.data.dataset import Dataset
    from_table = Dataset.from_table

    data = from_table(table_rows(tables, "penguins"), "species", drop=["island", "sex"], log=lambda m: None)
    run = mlplab.train(data, epochs=1, hidden=[8], progress="quiet", write=False)
    assert export(run, "onnx", tmp_path / "n.onnx") < 1e-5
    assert [i["name"] for i in json.loads((tmp_path / "n.onnx.json").read_text())["inputs"]] == ["numeric"]
    only = from_table(table_rows(tables, "penguins"), "species", drop=[c for c in ("bill_length_mm", "bill_depth_mm",
                      "flipper_length_mm", "body_mass_g")], log=lambda m: None)
    run = mlplab.train(only, epochs=1, hidden=[8], progress="quiet", write=False)
    assert export(run, "torchscript", tmp_path / "c.pt") < 1e-5
    assert [i["name"] for i in json.loads((tmp_path / "c.pt.json").read_text())["inputs"]] == ["categorical"]


def test_a_loaded_table_run_without_its_rows_asks_for_them(table_runs, tables, tmp_path):
    table_runs["penguins"].save(tmp_path / "run")
    run = mlplab.load_run(tmp_path / "run")  # trained from a pyarrow Table: no --data file to split again
    with pytest.raises(ValueError, match="holds no test rows to check the export on; .* --data FILE"):
        export(run, "onnx", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    assert export(run, "onnx", tmp_path / "m.onnx", x=tables / "penguins.csv") < 1e-5
    assert json.loads((tmp_path / "m.onnx.json").read_text())["check"]["on"] == f"344 rows of {tables / 'penguins.csv'}"


def test_cli_exports_a_table_run_on_its_test_rows_in_a_real_process(cli, capsys, one_torch_thread, tables, tmp_path):
    data = tmp_path / "penguins.csv"
    data.write_bytes((tables / "penguins.csv").read_bytes())
    assert main(["train", "--data", str(data), "--target", "species", "--epochs", "2", "--hidden", "16", "--quiet",
                 "--out", str(tmp_path / "runs")]) == 0  # in-process: the export is the part under test
    folder = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run folder: ")
    exported = cli("export", folder, "--format", "onnx", "--out", str(tmp_path / "m.onnx"), env=ONE_THREAD)
    assert exported.returncode == 0, exported.stderr
    assert f"on 69 test rows of {data}" in exported.stdout and exported.stderr == ""
    from mlplab.runs.export_table import graph_inputs

    run, new = mlplab.load_run(folder), odd_rows(table_rows(tables, "penguins"))
    with pytest.warns(UserWarning, match="encoded as 'other'"):
        want = run.predict_proba(new)
    assert_matches(run, run_file(tmp_path / "m.onnx", "onnx", graph_inputs(run.schema.columns, new)), want)


def test_cli_table_run_whose_file_is_gone_needs_data_in_one_line(capsys, table_runs, tables, tmp_path):
    run = table_runs["penguins"]
    gone = mlplab.Run(run.model, run.config.replace(data=str(tmp_path / "gone.csv"), target="species"), run.history,
                      run.metrics, run.schema)
    gone.save(tmp_path / "run")
    out = str(tmp_path / "m.onnx")
    line = one_line_error(capsys, "export", str(tmp_path / "run"), "--format", "onnx", "--out", out)
    assert "gone.csv is not there to take its test rows from" in line and "--data FILE" in line
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(tmp_path / "run"), "--format", "torchscript", "--out", str(tmp_path / "m.pt"),
                 "--data", str(tables / "penguins.csv")]) == 0
    assert "on 344 rows of" in capsys.readouterr().out


def test_cli_data_for_an_array_run_is_one_line(capsys, runs, tmp_path):
    runs["binary"].save(tmp_path / "run")
    line = one_line_error(capsys, "export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path / "m"),
                          "--data", str(tmp_path / "x.csv"))
    assert "--data and --na-values are for runs trained on a table" in line


def test_cli_na_values_mark_the_check_rows_cells_missing(capsys, table_runs, tables, tmp_path):
    table_runs["penguins"].save(tmp_path / "run")
    text = (tables / "penguins.csv").read_text().splitlines()
    names = text[0].split(",")
    col = names.index("bill_length_mm")
    rows = [line.split(",") for line in text[1:]]
    rows[5][col] = "unmeasured"  # one cell of a number column in a marker the run was not trained with
    (tmp_path / "new.csv").write_text("\n".join([text[0]] + [",".join(r) for r in rows]) + "\n")
    argv = ["export", str(tmp_path / "run"), "--format", "torchscript", "--out", str(tmp_path / "m.pt"),
            "--data", str(tmp_path / "new.csv")]
    line = one_line_error(capsys, *argv)
    assert "'unmeasured' is not a number" in line and "bill_length_mm" in line and "line 7" in line
    assert not (tmp_path / "m.pt").exists()
    assert main(argv + ["--na-values", "unmeasured"]) == 0
    assert f"on {len(rows)} rows of" in capsys.readouterr().out
