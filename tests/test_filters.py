"""mlplab.plots.filters and ``mlplab plot filters``: a CNN's first-layer kernels and feature maps, error paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ONE_THREAD
from torch.nn import functional as F

import mlplab
from mlplab.models.cnn import CNN
from mlplab.plots.filters import filters, filters_figure, first_conv, first_feature_maps
from mlplab.scratch.cnn import CNN as ScratchCNN

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPEC = "conv:4:3,relu,maxpool:2"


def test_feature_maps_are_the_first_conv_output():
    model = CNN((10, 10), 3, spec="bn," + SPEC, seed=0)
    image = torch.rand(10, 10, generator=torch.Generator().manual_seed(0))
    maps = first_feature_maps(model, image)
    assert first_conv(model) == 1
    # in eval mode bn uses its running statistics (0 and 1 at the start): (x − 0)/√(1 + ε)
    expected = F.conv2d(image[None, None] / (1 + 1e-5) ** 0.5, model[1].weight, model[1].bias)[0]
    torch.testing.assert_close(maps, expected.detach())
    assert maps.shape == (4, 8, 8)


def test_scratch_cnn_gives_the_same_maps():
    torch_model = CNN((8, 8), 2, spec=SPEC, seed=1)
    scratch = ScratchCNN((8, 8), 2, spec=SPEC, seed=1)
    scratch.load_state_dict(torch_model.state_dict())
    image = torch.rand(8, 8)
    torch.testing.assert_close(first_feature_maps(scratch, image), first_feature_maps(torch_model, image))


def test_figure_has_a_panel_per_kernel_and_per_map(tmp_path):
    model = CNN((3, 12, 12), 2, spec="conv:10:5,relu", seed=0)            # 3 input channels, 10 kernels
    fig = filters_figure(model, torch.rand(3, 12, 12), title="t")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 10 + 1 + 10                                     # kernels, the input, the maps
    path = filters(model, torch.rand(3, 12, 12), tmp_path / "f.png")
    assert path.stat().st_size > 2000


@pytest.mark.parametrize("model", [mlplab.MLP(4, [3], 2), torch.nn.Sequential(torch.nn.Linear(2, 2))])
def test_a_model_without_conv_is_refused(model):
    with pytest.raises(ValueError, match="needs a CNN"):
        filters_figure(model, torch.rand(2, 2))


def test_cli_error_paths(cli, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 8, 8)).astype(np.float32), np.arange(60) % 3
    mlplab.train(mlplab.Dataset.from_arrays(x, y), model="cnn", spec=SPEC, epochs=1, progress="quiet",
                 device="cpu", out=str(tmp_path / "cnn"))
    mlplab.train(mlplab.Dataset.from_arrays(x.reshape(60, -1), y), hidden=[4], epochs=1, progress="quiet",
                 device="cpu", out=str(tmp_path / "mlp"))
    (cnn_run,), (mlp_run,) = (tmp_path / "cnn").iterdir(), (tmp_path / "mlp").iterdir()
    out = str(tmp_path / "f.png")
    for args, message in [((str(cnn_run),), "trained on arrays"), ((str(mlp_run),), "needs a CNN"),
                          ((str(tmp_path / "nowhere"),), "not a run folder"), ((), "needs a RUN_FOLDER")]:
        r = cli("plot", "filters", *args, "--out", out, env=ONE_THREAD)
        assert r.returncode == 2, r.stderr
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli("plot", "activations", str(cnn_run), "--out", out, env=ONE_THREAD)
    assert r.returncode == 2 and "takes no RUN_FOLDER" in r.stderr


def test_cli_draws_a_fashion_mnist_cnn_run(cli, tmp_path, fashion_dir):
    """The whole path: one epoch of a 4-channel CNN on Fashion-MNIST (tens of seconds; skipped without the data)."""
    r = cli("train", "--model", "cnn", "--spec", SPEC, "--dataset", "fashion-mnist", "--data-dir", str(fashion_dir),
            "--epochs", "1", "--batch-size", "512", "--out", str(tmp_path / "runs"), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    (run,) = (tmp_path / "runs").iterdir()
    r = cli("plot", "filters", str(run), "--out", str(tmp_path / "f.png"), "--index", "3", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.png").stat().st_size > 5000
