"""mlplab.experiments.surfaces and ``mlplab plot optimizers``: on Rosenbrock, momentum and Adam reach the
minimum where plain SGD at the same lr does not; every scratch optimizer's path equals torch's; the CLI draws
them and refuses bad settings in one line."""

from __future__ import annotations

import pytest
import torch

from conftest import ONE_THREAD, run_cli
from mlplab.experiments.surfaces import LRS, OPTIMIZERS, SURFACES, path, paths

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_on_rosenbrock_momentum_and_adam_reach_the_minimum_and_plain_sgd_does_not():
    lr = LRS["rosenbrock"]["SGD"]
    assert LRS["rosenbrock"]["SGD+momentum"] == lr                              # the same lr, with momentum
    minimum = SURFACES["rosenbrock"].minimum
    sgd = path("rosenbrock", "sgd", lr=lr, steps=1000)
    momentum = path("rosenbrock", "sgd", lr=lr, steps=1000, momentum=0.9)
    adam = path("rosenbrock", "adam", lr=LRS["rosenbrock"]["Adam"], steps=1000)
    assert momentum.distance_to(minimum) < 0.1 and adam.distance_to(minimum) < 0.1
    assert sgd.distance_to(minimum) > 0.5 and torch.isfinite(sgd.points).all()   # not diverged: slow
    assert float(sgd.losses[-1]) < float(sgd.losses[0])


@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_scratch_path_equals_torch(surface):
    ours, theirs = paths(surface, impl="scratch", steps=100), paths(surface, impl="torch", steps=100)
    assert list(ours) == list(OPTIMIZERS) and len(ours) == 7
    for name in OPTIMIZERS:
        assert ours[name].points.shape == (101, 2)
        torch.testing.assert_close(ours[name].points, theirs[name].points, rtol=0, atol=1e-6)
        torch.testing.assert_close(ours[name].losses, theirs[name].losses, rtol=0, atol=1e-6)


def test_betas_and_momentum_reach_the_optimizers():
    slow = paths("quadratic", steps=30, betas=(0.5, 0.9), momentum=0.5, lrs={"Adam": 0.05})
    plain = paths("quadratic", steps=30)
    assert not torch.equal(slow["Adam"].points, plain["Adam"].points)
    assert not torch.equal(slow["Adamax"].points, plain["Adamax"].points)
    assert not torch.equal(slow["SGD+momentum"].points, plain["SGD+momentum"].points)
    torch.testing.assert_close(slow["SGD"].points, plain["SGD"].points)         # untouched


def test_bad_names_and_numbers_say_what_is_valid():
    with pytest.raises(ValueError, match="rosenbrock"):
        path("rosenbrok", "adam", lr=0.1, steps=3)
    with pytest.raises(ValueError, match="adamax"):
        path("saddle", "adamw", lr=0.1, steps=3)
    with pytest.raises(ValueError, match="lr of Adam must be a positive number"):
        paths("saddle", lrs={"Adam": -1.0}, steps=3)
    with pytest.raises(ValueError, match="unknown optimizer\\(s\\) 'adam'.*SGD\\+momentum"):
        paths("saddle", lrs={"adam": 0.1}, steps=3)
    with pytest.raises(ValueError, match="steps must be an integer in 1..100,000"):
        path("saddle", "sgd", lr=0.1, steps=0)
    with pytest.raises(ValueError, match="steps must be an integer"):
        paths("saddle", steps=0)                                                # 0 is not "the default"
    with pytest.raises(ValueError, match="steps must be an integer"):
        path("saddle", "sgd", lr=0.1, steps=10**20)


def test_cli_plot_optimizers_draws_and_refuses_a_bad_lr_in_one_line(tmp_path):
    png = tmp_path / "paths.png"
    result = run_cli("plot", "optimizers", "--surface", "saddle", "--steps", "20", "--lr", "Adam=0.2,SGD=0.01",
                     "--betas", "0.8,0.99",
                     "--out", str(png), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    bad = run_cli("plot", "optimizers", "--lr", "Adam:0.2", "--out", str(tmp_path / "bad.png"), env=ONE_THREAD)
    assert bad.returncode == 2 and "NAME=LR" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.png").exists()


def test_recipe_optimizer_paths_reports_the_lesson(tmp_path):
    from mlplab.recipes import run_recipe

    result = run_recipe("optimizer-paths", tmp_path, quick=True)
    assert result["largest_gap"] < 1e-6
    assert {p.name for p in tmp_path.iterdir()} >= {"quadratic.png", "rosenbrock.png", "saddle.png", "report.md"}
    report = (tmp_path / "report.md").read_text()
    assert "| SGD+momentum |" in report and "scratch twins" in report
