"""The 2-D playground: mlplab.data.synthetic's presets, mlplab.plots.boundary (what the figure shows is what the
run predicts; the animation is a real GIF) and ``recipe playground``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mlplab
from mlplab.data import synthetic
from mlplab.plots.boundary import BoundaryFrames, boundary_figure, first_layer, plane, probabilities

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", list(synthetic.PLAYGROUND))
def test_every_preset_is_a_balanced_2d_classification_set(name):
    x, y = synthetic.PLAYGROUND[name](n=300, noise=0.1, seed=1)
    assert x.shape == (300, 2) and x.dtype == torch.float32 and set(y.tolist()) == {0, 1}
    assert abs(int(y.sum()) - 150) <= 1
    again, _ = synthetic.PLAYGROUND[name](n=300, noise=0.1, seed=1)
    assert torch.equal(x, again)                                                 # seeded
    data = synthetic.playground(name, n=300, noise=0.1, seed=1)
    assert data.name == name and data.task == "binary" and len(data.x_train) == 180


def test_noiseless_presets_have_their_shapes():
    x, y = synthetic.circles(n=200, noise=0.0)
    radius = x.double().norm(dim=1)
    torch.testing.assert_close(radius[y == 0], torch.ones_like(radius[y == 0]))
    torch.testing.assert_close(radius[y == 1], torch.full_like(radius[y == 1], 0.5))
    x, y = synthetic.xor(n=200, noise=0.0)
    assert torch.equal(y, ((x[:, 0] > 0) == (x[:, 1] > 0)).long())
    x, y = synthetic.spiral(n=300, noise=0.0, classes=3)
    assert set(y.tolist()) == {0, 1, 2} and float(x.norm(dim=1).max()) <= 1.0 + 1e-6


def test_bad_presets_say_what_is_valid():
    with pytest.raises(ValueError, match="spiral"):
        synthetic.playground("spirals")
    with pytest.raises(ValueError, match="noise is a standard deviation"):
        synthetic.playground("moons", noise=-0.1)
    with pytest.raises(ValueError, match="number of points"):
        synthetic.playground("moons", n=3)


@pytest.fixture(scope="module")
def moons_run():
    frames = None
    data = synthetic.playground("moons", n=300, noise=0.1)
    frames = BoundaryFrames(data, every=2)
    run = mlplab.train(data, hidden=[8, 8], activation=["tanh"], optimizer="adam", lr=0.03, epochs=20,
                       batch_size=32, progress="quiet", device="cpu", callbacks=[frames])
    return run, frames


def test_the_figure_shows_what_the_run_predicts(moons_run):
    run, _ = moons_run
    assert run.metrics["test_accuracy"] > 0.85
    _, _, points = plane(run.data.x_train.numpy(), steps=30)
    shown = probabilities(run.model, run.schema.inputs(points), "bce_with_logits")
    np.testing.assert_allclose(shown, run.predict_proba(points), atol=1e-6)
    units = first_layer(run.model, run.schema.inputs(points))
    assert units.shape == (900, 8)
    fig = run.plot_boundary()
    ax = fig.axes[0]
    assert len(ax.collections) >= 3 and "8 first-layer units" in ax.get_title()   # regions, boundary, points


def test_boundary_needs_2d_points_and_data(moons_run):
    run, _ = moons_run
    with pytest.raises(ValueError, match="2-D inputs"):
        boundary_figure(run, np.zeros((5, 3)), None)
    iris = mlplab.train("iris", hidden=[4], epochs=1, progress="quiet", device="cpu")
    with pytest.raises(ValueError, match="2-D inputs"):
        iris.plot_boundary()


def test_the_animation_is_a_gif_with_a_frame_per_recorded_epoch(moons_run, tmp_path):
    _, frames = moons_run
    assert [epoch for epoch, _ in frames.frames] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    path = frames.save(tmp_path / "moons.gif")
    assert path.read_bytes()[:4] == b"GIF8"
    from PIL import Image

    assert Image.open(path).n_frames == len(frames.frames)
    with pytest.raises(ValueError, match=".gif or .mp4"):
        frames.save(tmp_path / "moons.png")


def test_recipe_playground_compares_depth_and_activation(tmp_path):
    from mlplab.recipes import run_recipe

    results = run_recipe("playground", tmp_path, quick=True)
    assert len(results) == 9 and {p.name for p in tmp_path.iterdir()} == {"boundaries.png", "spiral.gif", "report.md"}
    assert "| 3 x 16 |" in (tmp_path / "report.md").read_text()


def test_the_animation_goes_into_a_run_folder(tmp_path):
    data = synthetic.playground("xor", n=100, noise=0.05)
    frames = BoundaryFrames(data, steps=20)
    run = mlplab.train(data, hidden=[4], epochs=2, progress="quiet", device="cpu", out=str(tmp_path),
                       callbacks=[frames])
    assert frames.save(run.path) == run.path / "boundary.gif"
    assert (run.path / "boundary.gif").read_bytes()[:4] == b"GIF8"
