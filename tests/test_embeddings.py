"""mlplab.models.embeddings: the periodic (PLR) embedding against a per-column loop in float64, its positions for
a table and for plain arrays, and table runs with ``numeric_embedding``: trained from Python and the CLI, loaded,
exported to ONNX and TorchScript, resumed bit for bit; every error in one line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pytest
import torch
from conftest import ONE_THREAD, one_line_error, whole_and_resumed
from safetensors.torch import load_file

import mlplab
from mlplab.cli.main import main
from mlplab.config import TrainConfig
from mlplab.data.schema import Schema
from mlplab.data.dataset import Dataset
from_table = Dataset.from_table
from mlplab.models.build import build_model
from mlplab.models.embeddings import SIGMA, PeriodicEmbedding, numeric_positions
from mlplab.runs.export import export
from mlplab.training.history import History

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.load.*is deprecated:DeprecationWarning")


def loop_reference(emb: PeriodicEmbedding, x: torch.Tensor) -> torch.Tensor:
    """The module docstring's equations, one column at a time."""
    n, _, d = emb.weight.shape
    bias = emb.bias.view(n, d)
    parts = []
    for j, p in enumerate(emb.positions.tolist()):
        v = 2 * math.pi * emb.frequencies[j] * x[:, p:p + 1]                  # (B, k)
        e = torch.cat([torch.sin(v), torch.cos(v)], dim=1)                    # (B, 2k)
        parts.append(torch.relu(e @ emb.weight[j] + bias[j]))                 # (B, d)
    rest = [x[:, i:i + 1] for i in range(x.shape[1]) if i not in emb.positions.tolist()]
    return torch.cat(parts + rest, dim=1)


@pytest.mark.parametrize("positions, width, k, dim", [([0, 2, 5], 7, 16, 16), ([1], 2, 3, 5), ([0, 1, 2], 3, 4, 2)])
def test_output_and_gradients_match_a_per_column_loop_in_float64(positions, width, k, dim):
    g = torch.Generator().manual_seed(0)
    emb = PeriodicEmbedding(positions, width, k, dim, sigma=1.0, generator=g).double()
    with torch.no_grad():
        emb.bias.normal_(0, 1, generator=g)   # drawn at zero: make the bias count
    x = torch.randn(9, width, dtype=torch.float64, generator=g, requires_grad=True)
    ours, ref = emb(x), loop_reference(emb, x)
    assert ours.shape == (9, emb.out_features) == (9, len(positions) * dim + width - len(positions))
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=1e-12)
    upstream = torch.randn(ours.shape, dtype=torch.float64, generator=g)
    params = [x, emb.frequencies, emb.weight, emb.bias]
    for a, b in zip(torch.autograd.grad(ours, params, upstream), torch.autograd.grad(ref, params, upstream)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_the_other_columns_pass_through_unchanged_and_in_order():
    emb = PeriodicEmbedding([1, 4], width=6, dim=3)
    x = torch.randn(5, 6)
    out = emb(x)
    assert out.shape == (5, 2 * 3 + 4)
    assert torch.equal(out[:, 6:], x[:, [0, 2, 3, 5]])
    assert emb.positions.tolist() == [1, 4] and "positions" in emb.state_dict()


def test_initialisation_is_seeded_and_as_documented():
    a, b = (PeriodicEmbedding(range(200), 200, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert abs(a.frequencies.std().item() - SIGMA) < 0.1 * SIGMA           # σ
    assert abs(a.weight.std().item() - 1 / math.sqrt(32)) < 0.01               # 1/√(2k)
    assert not a.bias.any() and a.bias.ndim == 1                               # a vector: never weight-decayed



@pytest.mark.parametrize("model", ["mlp", "ensemble"])
@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_sigma_scales_the_first_frequencies_and_nothing_else(model, impl):
    """numeric_embedding_sigma reaches the embedding through every model that takes one: the same seed draws
    σ · the same standard normals, and every other parameter is unchanged."""
    config = TrainConfig(hidden=(8,), numeric_embedding=4, impl=impl, seed=5, ensemble=4 if model == "ensemble" else 0)
    one, tenth = (build_model(config.replace(numeric_embedding_sigma=sigma), (6,), "binary", 1, numeric=[0, 2, 3])
                  for sigma in (1.0, 0.1))
    (name, _), *_ = [(n, p) for n, p in one.named_parameters() if n.endswith("frequencies")]
    for (n, p), (_, q) in zip(one.named_parameters(), tenth.named_parameters()):
        if n == name:
            torch.testing.assert_close(q, 0.1 * p)
        else:
            assert torch.equal(p, q), n


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_sigma_that_is_not_a_positive_number_is_one_line(capsys, value):
    message = one_line_error(capsys, "train", "--dataset", "iris", "--numeric-embedding", "4",
                             "--numeric-embedding-sigma", value)
    assert "numeric_embedding_sigma" in message and "positive number such as 0.1" in message

# ---- positions --------------------------------------------------------------------------------------------

def write_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """carat (numeric), depth (numeric, some missing: + indicator), cut (text: one-hot), size (integers with many
    values: numeric), flag (booleans: one-hot); price (regression target) and grade (classification target)."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 3, rows)
    depth = rng.normal(60, 2, rows)
    cut = rng.choice(["Fair", "Good", "Ideal"], rows)
    size = rng.integers(0, 50, rows)
    flag = rng.random(rows) < 0.5
    price = 1000 * np.sin(3 * carat) + 2000 * carat + 300 * (cut == "Ideal") + rng.normal(0, 50, rows)
    table = pa.table({"carat": carat, "depth": pa.array(np.where(np.arange(rows) % 10 == 3, np.nan, depth),
                                                        from_pandas=True),
                      "cut": cut, "size": size, "flag": flag, "price": price,
                      "grade": np.where(np.sin(3 * carat) > 0, "high", "low")})
    pyarrow.csv.write_csv(table, path)
    return path


@pytest.fixture
def csv(tmp_path) -> Path:
    return write_csv(tmp_path / "gems.csv")


def test_positions_of_a_table_are_its_numeric_value_slots(csv):
    data = from_table(csv, "price", drop=["grade"], log=lambda m: None)
    kinds = [(c.name, c.kind, c.width) for c in data.columns.columns]
    assert kinds == [("carat", "numeric", 1), ("depth", "numeric", 2), ("cut", "categorical", 4),
                     ("size", "numeric", 1), ("flag", "categorical", 3)]
    # carat 0 | depth 1, its indicator 2 | cut 3-6 | size 7 | flag 8-10
    assert numeric_positions(data) == numeric_positions(Schema.of(data)) == [0, 1, 7]


def test_positions_of_plain_arrays_are_every_feature():
    data = mlplab.Dataset.from_arrays(np.random.default_rng(0).normal(size=(40, 5)), np.arange(40) % 2)
    assert numeric_positions(data) == [0, 1, 2, 3, 4]
    model = build_model(TrainConfig(hidden=(8,), numeric_embedding=4), (5,), "multiclass", 2)  # numeric=None: all
    assert model[1].positions.tolist() == [0, 1, 2, 3, 4] and model[2].in_features == 5 * 16


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_the_embedding_comes_before_the_first_linear_in_both_impls(impl):
    config = TrainConfig(hidden=(8, 8), numeric_embedding=4, impl=impl, seed=1)
    model = build_model(config, (11,), "regression", 1, numeric=[0, 1, 7])
    assert type(model[1]) is PeriodicEmbedding and model[1].out_features == 3 * 16 + 8
    other = build_model(config.replace(impl="scratch" if impl == "torch" else "torch"), (11,), "regression", 1,
                        numeric=[0, 1, 7])
    x = torch.randn(6, 11)
    torch.testing.assert_close(model(x), other(x))  # one seed, the same numbers in both impls


# ---- table runs -------------------------------------------------------------------------------------------

def rmse(run, data) -> float:
    y = data.y_test.double().numpy().reshape(-1)
    y = y * float(data.target_stats[1]) + float(data.target_stats[0]) if data.target_stats is not None else y
    return float(np.sqrt(np.mean((run.predict(data.x_test).reshape(-1) - y) ** 2)))  # the test rows as given


@pytest.mark.parametrize("target", ["price", "grade"])
def test_a_table_run_trains_loads_and_predicts_the_same(csv, target, tmp_path, one_torch_thread):
    """Both targets turn on sin(3 · carat): with as many steps, the embedding learns it and the plain MLP does
    not as well (measured over seeds 0-2: RMSE 486-651 → 131-271 of a spread of 1916; accuracy 0.63 → 0.98)."""
    other = "grade" if target == "price" else "price"
    data = from_table(csv, target, drop=[other], log=lambda m: None)
    settings = {"hidden": [32], "epochs": 20, "batch_size": 32, "lr": 1e-2, "progress": "quiet"}
    run = mlplab.train(data, numeric_embedding=16, out=str(tmp_path), **settings)
    plain = mlplab.train(data, write=False, numeric_embedding=0, **settings)  # (a large regression table's preset has it on)
    assert type(run.model[1]) is PeriodicEmbedding and run.metrics["backprop"] == "hand"
    assert run.metrics["backprop_reason"].startswith("mlplab's MLP after a PeriodicEmbedding with ")
    loaded = mlplab.load_run(run.path)
    rows = pyarrow.csv.read_csv(csv)
    if target == "price":
        assert rmse(run, data) < 0.5 * rmse(plain, data) < 0.2 * float(data.target_stats[1])
        assert np.array_equal(loaded.predict(rows), run.predict(rows))
    else:
        assert run.metrics["test_accuracy"] > 0.9 and plain.metrics["test_accuracy"] < 0.75
        assert np.array_equal(loaded.predict_proba(rows), run.predict_proba(rows))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_table_run_exports_and_the_file_matches_mlplab(csv, fmt, tmp_path, one_torch_thread):
    from mlplab.runs.export_table import graph_inputs

    data = from_table(csv, "price", drop=["grade"], log=lambda m: None)
    run = mlplab.train(data, numeric_embedding=16, hidden=[16], epochs=2, progress="quiet", write=False)
    diff = export(run, fmt, tmp_path / f"m.{fmt}")   # the export's own check: 1e-5 of the target's spread
    assert 0 <= diff < 1e-5 * float(run.schema.target_stats[1])
    new = pyarrow.csv.read_csv(write_csv(tmp_path / "new.csv", rows=50, seed=1))   # rows it never saw
    feeds = graph_inputs(run.schema.columns, new)
    if fmt == "onnx":
        import onnxruntime

        got = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, feeds)[0]
    else:
        got = torch.jit.load(str(tmp_path / "m.torchscript"))(*map(torch.from_numpy, feeds.values())).detach().numpy()
    np.testing.assert_allclose(got[:, 0], run.predict(new), rtol=1e-5, atol=1e-5 * float(run.schema.target_stats[1]))


def test_sklearn_estimators_take_the_key_and_embed_every_feature(one_torch_thread):
    from mlplab.sklearn import MLPRegressor

    x = np.random.default_rng(0).uniform(0, 2, (200, 3))
    reg = MLPRegressor(hidden=(16,), epochs=5, numeric_embedding=4).fit(x, np.sin(3 * x[:, 0]))
    assert reg.model_[1].positions.tolist() == [0, 1, 2] and reg.predict(x).shape == (200,)


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_an_array_run_exports_with_its_input_scaling_before_the_embedding(impl, tmp_path, one_torch_thread):
    x = np.random.default_rng(0).normal(5, 3, (200, 6))  # standardised by the run: the export scales inside
    data = mlplab.Dataset.from_arrays(x, (x[:, 0] > 5).astype(int), test_fraction=0.2)
    run = mlplab.train(data, numeric_embedding=8, hidden=[16], epochs=2, impl=impl, progress="quiet", write=False)
    assert run.schema.feature_stats is not None
    for fmt in ("onnx", "torchscript"):
        assert export(run, fmt, tmp_path / f"m.{fmt}") < 1e-5


def test_the_cli_trains_a_table_run_with_the_flag_in_a_real_process(cli, csv, tmp_path):
    done = cli("train", "--data", str(csv), "--target", "price", "--drop", "grade", "--numeric-embedding", "16",
               "--epochs", "2", "--out", str(tmp_path / "runs"), "--quiet", env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1].removeprefix("run folder: "))
    assert "numeric_embedding = 16" in (folder / "config.toml").read_text()
    run = mlplab.load_run(folder)
    assert type(run.model[1]) is PeriodicEmbedding and run.model[1].positions.tolist() == [0, 1, 7]
    rows = pyarrow.csv.read_csv(csv)
    assert run.predict(rows).shape == (rows.num_rows,)
    assert main(["summary", str(folder)]) == 0


def test_a_table_run_with_the_embedding_resumed_continues_bit_identical(csv, tmp_path, capsys, one_torch_thread):
    args = ["train", "--data", str(csv), "--target", "grade", "--drop", "price", "--numeric-embedding", "8",
            "--hidden", "16,16", "--schedule", "none", "--quiet"]
    whole, part = whole_and_resumed(capsys, tmp_path, args, epochs=4, stop_after=2)
    a, b = load_file(str(part / "model.safetensors")), load_file(str(whole / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    def rows(folder):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in History.from_csv(folder / "history.csv").rows]

    assert rows(part) == rows(whole) and len(rows(part)) == 4


def test_penguins_with_the_embedding_trains_and_exports(tables, tmp_path, one_torch_thread):
    """A real table with missing numeric cells (indicators) and text columns."""
    data = from_table(tables / "penguins.csv", "species", log=lambda m: None)
    run = mlplab.train(data, numeric_embedding=16, hidden=[32], epochs=2, progress="quiet", write=False)
    assert numeric_positions(data) == [i for i, c in enumerate(slots(data.columns)) if c == "value"]
    assert export(run, "onnx", tmp_path / "p.onnx") < 1e-5


def slots(columns) -> list[str]:
    """Each encoded column's role: a numeric value, its missing indicator, or a one-hot slot."""
    out = []
    for c in columns.columns:
        out += ["value", "indicator"][:c.width] if c.kind == "numeric" else ["onehot"] * c.width
    return out


# ---- errors: one line -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, error, match", [(-1, ValueError, "numeric_embedding is a number of frequencies"),
                                                  ("16", TypeError, "numeric_embedding' must be an integer"),
                                                  (2.0, TypeError, "must be an integer"),
                                                  (True, TypeError, "must be an integer")])
def test_a_bad_numeric_embedding_value_is_refused(value, error, match):
    with pytest.raises(error, match=match):
        TrainConfig().replace(numeric_embedding=value)


def test_other_models_and_image_inputs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="model 'cnn' has none; use --model mlp or leave numeric_embedding at 0"):
        build_model(TrainConfig(model="cnn", numeric_embedding=16), (28, 28), "multiclass", 10)
    with pytest.raises(ValueError, match=r"shape \(28, 28\); leave numeric_embedding at 0"):
        build_model(TrainConfig(numeric_embedding=16), (28, 28), "multiclass", 10)
    with pytest.raises(ValueError, match="positions must be distinct"):
        PeriodicEmbedding([2, 1], 4)
    with pytest.raises(ValueError, match="within \\[0, 4\\)"):
        PeriodicEmbedding([1, 4], 4)


def test_a_table_without_numeric_columns_is_refused(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b,y\n" + "".join(f"{'pq'[i % 2]},{'rst'[i % 3]},{i % 5 % 2}\n" for i in range(60)))
    data = from_table(path, "y", log=lambda m: None)
    with pytest.raises(ValueError, match=r"none \(a table of categorical columns only\); leave numeric_embedding at 0"):
        mlplab.train(data, numeric_embedding=16, epochs=1, progress="quiet", write=False)


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert "numeric_embedding is a number of frequencies" in one_line_error(
        capsys, "train", "--dataset", "iris", "--numeric-embedding", "-1")
    assert "--numeric-embedding: invalid int value: 'x'" in one_line_error(
        capsys, "train", "--dataset", "iris", "--numeric-embedding", "x")
    assert "model 'lstm' has none" in one_line_error(capsys, "train", "--dataset", "iris", "--model", "lstm",
                                                     "--numeric-embedding", "16", "--out", str(tmp_path / "runs"))
    assert "leave numeric_embedding at 0" in one_line_error(
        capsys, "summary", "--dataset", "fashion-mnist", "--numeric-embedding", "16")
    assert not (tmp_path / "runs").exists()  # refused before any file


def test_cli_error_exits_2_in_a_real_process(cli, tmp_path):
    done = cli("train", "--dataset", "iris", "--model", "rnn", "--numeric-embedding", "4", "--out", str(tmp_path),
               env=ONE_THREAD)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
