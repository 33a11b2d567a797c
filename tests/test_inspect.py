"""mlplab.training.inspect: layer statistics on real data show what init does to deep nets (Glorot & Bengio 2010,
He et al. 2015); the statistics are right by construction (SGD's update ratio is lr·‖g‖/‖W‖); every model type
and both impls are inspected; off, nothing is built; the CLI writes layers.csv and draws it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import mlplab
from conftest import ONE_THREAD, run_cli
from mlplab.data.dataset import Dataset
from mlplab.data.load import load_dataset
from mlplab.training.inspect import COLUMNS, Inspector, inspected_layers

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fashion_subset(fashion_dir):
    """512 Fashion-MNIST training images: enough rows for shares of units, one epoch in about a second."""
    f = load_dataset("fashion-mnist", data_dir=str(fashion_dir))
    return Dataset.from_arrays(f.x_train[:512], f.y_train[:512], val_fraction=0.0, name="fashion-512")


def deep_net(data, activation: str, init: str, width: int):
    """A 10-layer MLP (9 hidden layers), one epoch of SGD, inspected."""
    return mlplab.train(data, hidden=[width] * 9, activation=[activation], init=[init], epochs=1, lr=0.01,
                        batch_size=128, progress="quiet", device="cpu", inspect=True).layers


def test_tanh_saturates_with_unit_normal_init_and_not_with_xavier(fashion_subset):
    normal = deep_net(fashion_subset, "tanh", "normal:1", 512)
    for epoch in (0, 1):                                                         # at init and after an epoch
        tanh = normal[(normal.epoch == epoch) & (normal.module == "tanh")].saturated.tolist()
        assert len(tanh) == 9 and min(tanh[4:]) > 0.9, tanh                   # the deep layers: saturated
    xavier = deep_net(fashion_subset, "tanh", "xavier_normal", 512)
    tanh = xavier[xavier.module == "tanh"].saturated
    assert tanh.max() < 0.1, tanh.tolist()


def test_relu_gradients_vanish_with_small_init_and_not_with_kaiming(fashion_subset):
    def first_over_last(init):
        frame = deep_net(fashion_subset, "relu", init, 64)
        grads = frame[(frame.epoch == 1) & (frame.module == "Linear")].grad_norm.tolist()
        assert len(grads) == 10
        return grads[0] / grads[-1]

    assert first_over_last("normal:0.01") < 1e-3                               # orders of magnitude below
    assert 0.1 < first_over_last("kaiming_normal") < 10                        # within 10x


def test_sgd_update_ratio_is_lr_times_gradient_over_weight():
    data = load_dataset("iris")
    run = mlplab.train(data, hidden=[8], epochs=2, lr=0.05, progress="quiet", device="cpu", inspect=True)
    linear = run.layers[run.layers.module == "Linear"]
    assert len(linear) == 6                                                    # 2 layers x epochs 0, 1, 2
    expected = 0.05 * linear.grad_norm / linear.weight_norm
    torch.testing.assert_close(torch.tensor(linear.update_ratio.values), torch.tensor(expected.values))
    assert run.metrics["backprop"] == "hand"                                   # training never saw a hook


def test_weight_norm_and_dead_units_are_those_of_the_model():
    data = load_dataset("digits")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    with torch.no_grad():
        model[1].bias[:4] = -1e6                                               # 4 of 16 units can never fire
    spy = Inspector(data)
    spy.record(0, model, torch.optim.SGD(model.parameters(), lr=0.1))
    by_layer = {r["layer"]: r for r in spy.rows}
    assert by_layer["2"]["dead"] == pytest.approx(4 / 16, abs=1e-9)
    assert by_layer["1"]["weight_norm"] == pytest.approx(float(model[1].weight.detach().norm()), rel=1e-6)
    assert math.isnan(by_layer["1"]["saturated"]) and math.isnan(by_layer["2"]["weight_norm"])


@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("model", ["mlp", "cnn", "rnn", "lstm"])
def test_every_model_type_on_both_impls_is_inspected(model, impl):
    digits = load_dataset("digits")
    data = Dataset.from_arrays(digits.x_train[:300].reshape(-1, 8, 8), digits.y_train[:300], name="digit-images")
    keys = {"spec": "conv:4:3:pad1,relu,maxpool:2"} if model == "cnn" else {"hidden": [8]}
    run = mlplab.train(data, model=model, impl=impl, epochs=1, progress="quiet", device="cpu", inspect=True,
                       activation=["tanh"] if model == "mlp" else ["relu"], **keys)
    frame = run.layers
    assert list(frame.columns) == list(COLUMNS) and set(frame.epoch) == {0, 1}
    weighted = frame[frame.weight_norm.notna()]
    assert len(weighted) >= 2 and (weighted.grad_norm > 0).all() and (weighted.update_ratio > 0).all()
    assert frame.act_std.notna().all()


def test_scratch_statistics_equal_torch():
    data = load_dataset("digits")
    frames = [mlplab.train(data, hidden=[16, 16], activation=["tanh", "relu"], impl=impl, epochs=1,
                           progress="quiet", device="cpu", inspect=True).layers for impl in ("torch", "scratch")]
    numbers = [torch.tensor(f.drop(columns=["layer", "module"]).fillna(-1).values) for f in frames]
    torch.testing.assert_close(numbers[0], numbers[1], rtol=1e-4, atol=1e-6)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.act, self.out = nn.Linear(64, 12), nn.Sigmoid(), nn.Linear(12, 10)

    def forward(self, x):
        return self.out(self.act(self.hidden(x.flatten(1))))


def test_a_hand_written_module_is_inspected_through_hooks():
    assert [(name, act) for name, _, act in inspected_layers(TwoLayers())] == [
        ("hidden", None), ("act", "sigmoid"), ("out", None)]
    run = mlplab.train("digits", model=TwoLayers(), epochs=1, progress="quiet", device="cpu", inspect=True)
    sigmoid = run.layers[run.layers.module == "sigmoid"]
    assert len(sigmoid) == 2 and sigmoid.saturated.between(0, 1).all()
    assert not any(m._forward_hooks for m in run.model.modules())               # the hooks are gone


def test_off_builds_nothing_and_says_how_to_turn_it_on(tmp_path):
    run = mlplab.train("iris", hidden=[8], epochs=1, progress="quiet", device="cpu", out=str(tmp_path))
    assert run.layer_rows is None and not (run.path / "layers.csv").exists()
    with pytest.raises(ValueError, match="inspect=True"):
        run.layers


def test_cli_inspect_writes_layers_csv_and_plot_layers_draws_it(tmp_path):
    result = run_cli("train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--device", "cpu",
                     "--inspect", "--out", str(tmp_path), "--quiet", env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    folder = next(tmp_path.iterdir())
    lines = (folder / "layers.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 1 + 3 * 3          # 3 layers x epochs 0, 1, 2
    assert mlplab.load_run(folder).layers.shape == (9, len(COLUMNS))
    png = tmp_path / "layers.png"
    result = run_cli("plot", "layers", str(folder), "--out", str(png), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_plot_layers_of_a_run_without_statistics_is_one_line(tmp_path):
    folder = mlplab.train("iris", hidden=[8], epochs=1, progress="quiet", device="cpu", out=str(tmp_path)).path
    result = run_cli("plot", "layers", str(folder), "--out", str(tmp_path / "x.png"), env=ONE_THREAD)
    assert result.returncode == 2 and "--inspect" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()
    result = run_cli("plot", "layers", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.png"), env=ONE_THREAD)
    assert result.returncode == 2 and "not a run folder" in result.stderr


def test_a_resumed_run_keeps_its_earlier_rows_once(tmp_path):
    from mlplab.runs.checkpoint import resume_config

    first = mlplab.train("iris", hidden=[8], epochs=2, progress="quiet", device="cpu", inspect=True, out=str(tmp_path))
    resumed = mlplab.train(config=resume_config(first.path, {"epochs": 4}), resume=first.path, progress="quiet",
                           write=True)
    counts = mlplab.load_run(first.path).layers.epoch.value_counts().sort_index().to_dict()
    assert counts == {0: 3, 1: 3, 2: 3, 3: 3, 4: 3} and len(resumed.layers) == 15


def test_a_damaged_layers_csv_is_named(tmp_path):
    from mlplab.training.inspect import layers_frame

    (tmp_path / "layers.csv").write_text(",".join(COLUMNS) + "\n1,1,Linear,abc,,,,,,\n")
    with pytest.raises(ValueError, match="layers.csv is not a layers.csv as mlplab train --inspect writes it"):
        layers_frame(None, tmp_path)
    (tmp_path / "layers.csv").write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(ValueError, match="its columns are"):
        layers_frame(None, tmp_path)
