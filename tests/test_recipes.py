"""mlplab recipe NAME --quick: each recipe runs in seconds, writes its plots and report.md, and its numbers hold."""

from __future__ import annotations

import math

import pytest
from conftest import ONE_THREAD

from mlplab.recipes import RECIPES, run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def written(out, *pngs):
    report = (out / "report.md").read_text()
    for png in pngs:
        assert (out / png).stat().st_size > 2000, png
        assert f"]({png})" in report
    return report


def test_polyfit_recovers_the_cubic_and_shows_underfitting(tmp_path):
    r = run_recipe("polyfit", tmp_path, seed=0, quick=True)
    assert r["max_weight_error"] < 0.15                               # the bar; d2l lands within ~0.05
    right, under = r["right (4 features)"], r["underfit (2 features)"]
    assert all(abs(w - t) < 0.15 for w, t in zip(right["weights"], (5, 1.2, -3.4, 5.6)))
    assert right["train_loss"] < 0.02                                 # noise variance 0.01
    assert under["train_loss"] > 1 and under["test_loss"] > 1         # 2 features cannot fit x², x³
    assert len(r["overfit (20 features)"]["weights"]) == 20
    assert "underfitting" in written(tmp_path, "loss_curves.png", "weights.png")


def test_weight_decay_norms_and_routes_agree(tmp_path):
    r = run_recipe("weight-decay", tmp_path, seed=0, quick=True)
    for route in ("penalty", "optimizer"):
        free, decayed = r[f"{route}, lambda=0"], r[f"{route}, lambda=3"]
        assert 12 <= free["norm"] <= 15                               # d2l: about 13-14
        assert 0.3 <= decayed["norm"] <= 0.45                         # d2l: about 0.35-0.4
        assert decayed["test_loss"] < free["test_loss"]
    assert r["routes_max_abs_diff"] < 1e-5                            # λw is the decay step exactly
    report = written(tmp_path, "loss_curves.png")
    assert "L2" in report and "‖w‖₂" in report


def test_init_symmetry_and_variance(tmp_path):
    r = run_recipe("init", tmp_path, seed=0, quick=True)
    width = 32
    for act in ("tanh", "relu", "sigmoid"):
        assert set(r[f"zeros, {act}"]["distinct"]) == {1}             # zero init: every unit identical
        assert set(r[f"kaiming, {act}"]["distinct"]) == {width}
    std = r["kaiming, relu"]["std"]
    assert 0.5 < std[-1] / std[0] < 2                                 # Kaiming keeps relu's variance
    small = r["normal 0.01, tanh"]["std"]
    assert small[-1] / small[0] < 1e-2                                # std 0.01 vanishes with depth
    assert r["kaiming, relu"]["val_loss"] < r["normal 0.01, relu"]["val_loss"]
    assert math.isclose(r["normal 0.01, relu"]["val_loss"], math.log(10), abs_tol=0.01)
    report = written(tmp_path, "init_stats.png")
    lesson = report.splitlines()[4]
    assert lesson.startswith("**Expected:** Kaiming with relu learns in its first epoch")
    assert ("it appeared" in lesson) == (r["kaiming, relu"]["val_loss"] < 1.0), lesson
    assert f"{r['kaiming, relu']['val_loss']:.3f}" in lesson


def test_optimizers_share_init_and_order(tmp_path):
    r = run_recipe("optimizers", tmp_path, seed=0, quick=True)
    assert list(r) == ["SGD", "SGD+momentum", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax"]
    assert all(v["test_accuracy"] > 0.8 for v in r.values())
    assert r["SGD+momentum"]["extra"] == {"momentum": 0.9}
    report = written(tmp_path, "train_loss.png", "val_loss.png", "val_accuracy.png")
    assert "| Adamax | 0.002 |" in report


def test_dropout_quick(tmp_path, fashion_dir):
    r = run_recipe("dropout", tmp_path, seed=0, quick=True, data_dir=fashion_dir)
    assert set(r) == {"none", "0.2/0.5 (d2l)"}
    for v in r.values():
        assert 0.5 < v["test_accuracy"] < 1
        assert v["gap"] == pytest.approx(v["train_accuracy"] - v["test_accuracy"])
    report = written(tmp_path, "curves.png", "gap.png")
    lesson = report.splitlines()[4]                    # right under the command: the verdict, in plain words
    assert lesson.startswith("**Expected:** dropout lifts test accuracy")
    helped = r["0.2/0.5 (d2l)"]["test_accuracy"] - r["none"]["test_accuracy"]
    if "did not appear" in lesson:                     # either way the line says which, with the numbers
        assert "Why that can happen" in lesson and "standard error" in lesson
    else:
        assert helped > 0


def test_dropout_gap_bars_start_at_zero_and_show_the_accuracies(tmp_path):
    from mlplab.plots.figures import save
    from mlplab.recipes.dropout import gap_figure

    results = {"none": {"train_accuracy": 0.97, "test_accuracy": 0.88},
               "0.5": {"train_accuracy": 0.91, "test_accuracy": 0.89}}
    fig = gap_figure(results)
    (ax,) = fig.axes
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] >= 1.0        # not cut at 0.80, which magnified the gaps
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [0.97, 0.91, 0.88, 0.89]                       # train bars, then test bars
    assert all(p.get_y() == 0 for p in ax.patches)
    assert [t.get_text() for t in ax.texts] == ["0.970", "0.910", "0.880", "0.890"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "0.5"]
    path = save(fig, tmp_path / "gap.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_activations_quick(tmp_path, fashion_dir):
    r = run_recipe("activations", tmp_path, seed=0, quick=True, data_dir=fashion_dir)
    assert set(r) == {"relu", "sigmoid", "tanh"}
    for v in r.values():
        assert len(v["layers"]) == 2
        assert all(0 <= s[k] <= 1 for s in v["layers"] for k in ("dead", "saturated", "saturated_values"))
    assert all(s["dead"] == 0 for s in r["sigmoid"]["layers"])       # sigmoid never outputs exactly 0
    written(tmp_path, "activations.png", "dead_saturated.png")


def test_every_recipe_is_registered():
    assert set(RECIPES) == {"polyfit", "weight-decay", "dropout", "init", "optimizers", "activations", "cnn-vs-mlp",
                            "lstm-memory", "optimizer-paths", "playground"}


def test_cli_recipe_errors_are_one_line(cli, tmp_path):
    r = cli("recipe", "nope", "--out", str(tmp_path / "a"), env=ONE_THREAD)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "unknown recipe 'nope'; valid recipes: activations, cnn-vs-mlp, dropout" in r.stderr
    r = cli("recipe", "dropout", "--out", str(tmp_path / "b"), "--data-dir", str(tmp_path / "missing"),
            env=ONE_THREAD)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "Fashion-MNIST not found in" in r.stderr and "--data-dir" in r.stderr


def test_cli_recipe_weight_decay(cli, tmp_path):
    r = cli("recipe", "weight-decay", "--out", str(tmp_path), "--seed", "1", "--quick", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "‖w‖₂" in r.stdout and (tmp_path / "report.md").exists()
    assert "--seed 1 --quick" in (tmp_path / "report.md").read_text()


def test_a_recipe_says_what_it_is_doing_as_it_goes(tmp_path, capsys):
    run_recipe("polyfit", tmp_path, seed=0, quick=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0].strip() for line in lines] == ["right (4 features)", "underfit (2 features)",
                                                             "overfit (20 features)"]
    assert all("epoch(s), train_loss" in line and "test_loss" in line for line in lines)


def test_a_verdict_says_plainly_when_the_lesson_did_not_show():
    from mlplab.recipes.report import verdict

    shown = verdict("dropout helps", True, "0.88 against 0.87", "short training")
    assert shown == "**Expected:** dropout helps. **In this run:** it appeared: 0.88 against 0.87."
    missed = verdict("dropout helps", False, "0.87 against 0.88", "short training")
    assert "**In this run it did not appear:** 0.87 against 0.88" in missed and missed.endswith("short training")


def test_recipe_help_states_each_recipes_duration_quick_and_full(cli):
    from mlplab.recipes import DURATIONS

    assert set(DURATIONS) == set(RECIPES)
    r = cli("recipe", "--help", env=ONE_THREAD)
    assert r.returncode == 0
    for name in RECIPES:
        line = next(line for line in r.stdout.splitlines() if line.split()[:1] == [name])
        assert "quick " in line and ", full " in line, line


def test_a_recipe_onto_a_full_disk_is_one_line_naming_the_file_and_leaves_no_half_written_file(tmp_path, capsys):
    """A real full tmpfs under --out: one line naming the file that did not fit; every file left is whole (no
    temporary, no empty file)."""
    from conftest import fill, one_line_error, tmpfs

    with tmpfs(tmp_path, "64k") as disk:
        fill(disk, 8 << 10)
        err = one_line_error(capsys, "recipe", "polyfit", "--quick", "--out", str(disk / "polyfit"))
        assert "no space left on device" in err and str(disk / "polyfit") in err, err
        left = [p for p in disk.rglob("*") if p.name != "filler"]
        assert not [p for p in left if p.name.endswith(".tmp") or (p.is_file() and p.stat().st_size == 0)], left


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_sigterm_during_a_recipe_leaves_whole_files_and_no_temporary(tmp_path, delay):
    """A real ``mlplab recipe`` sent SIGTERM once its folder exists: one line, exit 143 (or done), no
    traceback; every file left is whole (no temporary, no empty file)."""
    from conftest import last_error, terminated

    out = tmp_path / "polyfit"
    done = terminated(["recipe", "polyfit", "--quick", "--out", str(out)], tmp_path, delay, ready="polyfit")
    # -15: the signal came after the command returned (its files written) while Python was shutting down
    assert done.returncode in (0, 143) or (done.returncode == -15 and "recipe folder:" in done.stdout), done
    if done.returncode == 143:
        assert last_error(done.stderr).startswith("mlplab: "), done.stderr
    left = list(tmp_path.rglob("*"))
    assert not [p for p in left if p.name.endswith(".tmp") or (p.is_file() and p.stat().st_size == 0)], left
