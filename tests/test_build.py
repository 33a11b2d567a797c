"""build_model: every model type from one config, both implementations, the defaults each type brings, and
clear errors for inputs a type cannot read."""

import re

import numpy as np
import pytest
import torch

import mlplab
from mlplab.config import TrainConfig
from mlplab.data.dataset import Dataset
from mlplab.settings import resolve
from mlplab.models.build import MODEL_DEFAULTS, MODELS, build_model, with_model_defaults


@pytest.fixture(scope="module")
def images():
    """Tiny 12×12 'images': the class is which quadrant is bright."""
    rng = np.random.default_rng(0)
    y = np.arange(240) % 4
    x = rng.normal(0, 0.3, size=(240, 12, 12)).astype(np.float32)
    for i, c in enumerate(y):
        r, col = divmod(c, 2)
        x[i, r * 6:(r + 1) * 6, col * 6:(col + 1) * 6] += 2.0
    return Dataset.from_arrays(x, y, standardize=False)


@pytest.mark.parametrize("model", sorted(set(MODELS) - {"module"}))  # "module": your own, rebuilt by import path
@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_every_model_type_builds_for_both_impls_with_the_same_weights(model, impl, images):
    config = TrainConfig(model=model, impl=impl, hidden=(16,), spec="conv:4:3,relu,maxpool:2" if model == "cnn" else None)
    net = build_model(config, images.input_shape, images.task, images.output_size)
    assert net(images.x_train[:5]).shape == (5, 4)
    twin = build_model(config.replace(impl="torch" if impl == "scratch" else "scratch"), images.input_shape,
                       images.task, images.output_size)
    if model != "mlp":  # the CNN/RNN twins share torch's parameter names and layouts: same seed, same numbers
        for (k, a), (j, b) in zip(net.state_dict().items(), twin.state_dict().items()):
            assert k == j and torch.equal(a, b)


def test_each_type_learns_through_train(images):
    for model, epochs in (("cnn", 8), ("lstm", 40)):
        run = mlplab.train(images, model=model, spec="conv:8:3:pad1,relu,maxpool:2" if model == "cnn" else None,
                           hidden=(32,), epochs=epochs, batch_size=32, progress="quiet", device="cpu")
        assert run.metrics["val_accuracy"] > 0.9, model
        assert run.metrics["backprop"] == "autograd"


def test_model_defaults_apply_under_what_the_user_sets():
    c = with_model_defaults(TrainConfig(), {"model": "lenet"})
    assert (c.optimizer, c.lr, c.batch_size, c.epochs, c.init) == ("sgd", 0.9, 256, 10, ("xavier_uniform",))
    c = with_model_defaults(TrainConfig(), {"model": "cnn", "lr": 0.01})
    assert (c.optimizer, c.lr) == ("adam", 0.01)
    assert with_model_defaults(TrainConfig(), {}) == TrainConfig()
    assert set(MODEL_DEFAULTS) == set(MODELS)


@pytest.mark.parametrize("config, shape, message", [
    (TrainConfig(model="cnn"), (64,), "takes images (H, W) or (C, H, W)"),
    (TrainConfig(model="lstm"), (64,), "reads sequences (T, D)"),
    (TrainConfig(model="rnn", hidden=(16, 32)), (8, 8), "all equal"),
    (TrainConfig(model="cnn", spec="conv:4:3,wobble"), (8, 8), "CNN spec item 'wobble'"),
    (TrainConfig(model="lenet", loss="nll"), (28, 28), "only model 'mlp' appends"),
])
def test_inputs_a_type_cannot_read_are_one_clear_error(config, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_model(config, shape, "multiclass", 10)


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet'; valid models: cnn, lenet, lstm, mlp, module, rnn"):
        resolve({"model": "resnet"})


def test_cli_summary_of_each_type(cli):
    r = cli("summary", "--model", "lstm", "--dataset", "fashion-mnist", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "4·(128·(28 + 128) + 2·128) = 80,896" in r.stdout
    r = cli("summary", "--model", "cnn", "--dataset", "digits", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 2 and "takes images" in r.stderr and len(r.stderr.strip().splitlines()) == 1
