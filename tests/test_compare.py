"""mlplab compare / train --seeds: grid parsing, the compare folder, the mean ± std table, error paths."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
import torch
from conftest import ONE_THREAD

from mlplab.config import TrainConfig
from mlplab.experiments.compare import compare, label, parse_grid, settings
from mlplab.experiments.tables import aggregate, mean_std

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(dataset="iris", hidden=(8,), epochs=3, batch_size=32)


def test_parse_grid_types_follow_the_config_keys():
    grid = parse_grid(["optimizer=sgd,adam", "lr=0.01,1", "hidden=16,32/32", "nesterov=true,false",
                       "val_fraction=none,0.1", "epochs=2"])
    assert grid == {"optimizer": ["sgd", "adam"], "lr": [0.01, 1.0], "hidden": [(16,), (32, 32)],
                    "nesterov": [True, False], "val_fraction": [None, 0.1], "epochs": [2]}
    assert isinstance(grid["lr"][1], float) and isinstance(grid["epochs"][0], int)
    assert len(settings(grid)) == 2 * 2 * 2 * 2 * 2
    assert label({"optimizer": "adam", "hidden": (32, 32)}) == "optimizer=adam,hidden=32/32"


@pytest.mark.parametrize("spec, message", [
    ("foo=1", "unknown config key 'foo' in --grid; valid keys: dataset"),
    ("lr=fast", "'fast' is not a number"),
    ("epochs=2.5", "'2.5' is not an integer"),
    ("bias=maybe", "'maybe' is not true/false"),
    ("seed=1,2", "use --seeds"),
    ("lr", "--grid takes KEY=V1,V2"),
])
def test_parse_grid_errors(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_grid([spec])


def test_mean_std_is_the_sample_std():
    assert mean_std([2.0]) == (2.0, 0.0)
    mean, std = mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3) and std == pytest.approx(1.527525, rel=1e-6)
    stats = aggregate([{"a": 1.0, "device": "cpu"}, {"a": 3.0, "device": "cpu"}])
    assert stats == {"a": (2.0, pytest.approx(2 ** 0.5))}


def test_compare_writes_members_overlays_and_a_table(tmp_path):
    base = TrainConfig(**TINY, out=str(tmp_path), device="cpu")
    result = compare(base, {"optimizer": ["sgd", "adam"]}, seeds=2)
    assert len(result.runs) == 2 and all(len(g) == 2 for g in result.runs)
    assert result.seeds == [0, 1]
    # every member run's own folder, as mlplab train writes it
    for group in result.runs:
        for run in group:
            assert (run.path / "metrics.json").exists() and (run.path / "history.csv").exists()
            assert run.path.is_relative_to(result.path)
    for metric in ("train_loss", "val_loss", "test_accuracy"):
        assert (result.path / f"compare_{metric}.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(result.path / "table.csv")))
    assert [r["optimizer"] for r in rows] == ["sgd", "adam"] and rows[0]["runs"] == "2"
    accs = [r.metrics["test_accuracy"] for r in result.runs[1]]
    assert float(rows[1]["test_accuracy_mean"]) == pytest.approx(sum(accs) / 2)
    assert "±" in result.table and (result.path / "table.md").read_text() == result.table
    assert json.loads((result.path / "compare.json").read_text())["seeds"] == [0, 1]
    # two seeds differ (different init and data order), one seed reproduces
    a, b = result.runs[0]
    assert a.metrics["train_loss"] != b.metrics["train_loss"]


def test_bad_grid_value_writes_nothing(tmp_path):
    base = TrainConfig(**TINY, out=str(tmp_path / "out"))
    with pytest.raises(ValueError, match="unknown optimizer 'nope'"):
        compare(base, {"optimizer": ["sgd", "nope"]}, seeds=1)
    with pytest.raises(ValueError, match="hidden widths must be positive"):
        compare(base, {"hidden": [(8,), (0,)]}, seeds=1)
    assert not (tmp_path / "out").exists()


def test_cli_compare_prints_the_table(cli, tmp_path):
    r = cli("compare", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--grid", "lr=0.01,0.1",
            "--seeds", "2", "--out", str(tmp_path), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| lr | runs |" in r.stdout and "| 0.01 | 2 |" in r.stdout and "±" in r.stdout
    assert "compare folder:" in r.stdout.splitlines()[-1]


def test_cli_compare_unknown_key_is_one_line(cli, tmp_path):
    r = cli("compare", "--grid", "learning_rate=0.1", "--out", str(tmp_path / "x"), env=ONE_THREAD)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "valid keys: dataset" in r.stderr and "lr" in r.stderr
    assert not (tmp_path / "x").exists()


def test_cli_train_seeds_reports_mean_std(cli, tmp_path):
    r = cli("train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--seeds", "3", "--out",
            str(tmp_path), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| base | 3 |" in r.stdout and "±" in r.stdout
    assert len(list(tmp_path.glob("*-compare-iris/base/seed*/*-iris/metrics.json"))) == 3


def shop_csv(path: Path) -> Path:
    rows = [f"{i % 7},{'abc'[i % 3]},{'yes' if (i % 7) + (i % 3) > 4 else 'no'}" for i in range(120)]
    path.write_text("visits,colour,bought\n" + "\n".join(rows) + "\n")
    return path


def test_cli_train_seeds_on_a_table_file(cli, tmp_path):
    # each seed reads the table as train does (it used to look the table's name up as a named dataset)
    r = cli("train", "--data", str(shop_csv(tmp_path / "shop.csv")), "--target", "bought", "--epochs", "2", "--seeds", "2",
            "--out", str(tmp_path / "runs"), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| base | 2 |" in r.stdout and "test_balanced_accuracy" in r.stdout
    members = sorted((tmp_path / "runs").glob("*-compare-shop/base/seed*/*-shop"))
    assert len(members) == 2 and all((m / "columns.md").is_file() for m in members)


def test_cli_compare_on_a_table_file_starts_from_its_preset(cli, tmp_path):
    r = cli("compare", "--data", str(shop_csv(tmp_path / "shop.csv")), "--target", "bought", "--epochs", "2",
            "--grid", "lr=0.001,0.01", "--out", str(tmp_path / "runs"), "--quiet", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "| 0.001 | 1 |" in r.stdout and "| 0.01 | 1 |" in r.stdout
    (config,) = (tmp_path / "runs").glob("*-compare-shop/lr=0.01/seed*/*-shop/config.toml")
    saved = tomllib.loads(config.read_text())
    assert saved["hidden"] == [256, 256, 256] and saved["dropout"] == [0.15] and saved["lr"] == 0.01


@pytest.mark.parametrize("spec, message", [
    ("lr=,", "--grid lr: empty value"),
    ("lr=0.1,,0.2", "--grid lr: empty value"),
    ("lr=0.1,0.10", "value\\(s\\) 0.1 given more than once"),
    ("optimizer=sgd,sgd", "value\\(s\\) sgd given more than once"),
])
def test_parse_grid_refuses_empty_and_duplicate_values(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_grid([spec])


@pytest.mark.parametrize("grid", [["optimizer=sgd,adam", "momentum=0.9"], ["lr=0.1,-1"],
                                  ["init=normal:0.01,normal:nan"], ["device=cpu,meta"]])
def test_a_member_that_cannot_train_fails_before_any_file(tmp_path, capsys, grid):
    from mlplab.cli.main import main

    out = tmp_path / "out"
    argv = ["compare", "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--quiet", "--out", str(out)]
    assert main(argv + [a for g in grid for a in ("--grid", g)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "setting" in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_grid_values_never_name_a_folder_outside_out(tmp_path):
    from mlplab.experiments.compare import folder_names

    names = folder_names([{"data_dir": "x/../../../ESCAPED"}, {"data_dir": "x_.._.._.._ESCAPED"},
                          {"data_dir": ".."}, {"hidden": (256, 256)}, {"loss": "a\\b\x00c"}])
    assert names[0] == "data_dir=x_______ESCAPED" and names[1] == "data_dir=x_______ESCAPED-2", names
    assert names[3] == "hidden=256_256"
    for name in names:
        assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
    out = tmp_path / "out"
    result = compare(TrainConfig(**{**TINY, "epochs": 1}, out=str(out)),
                     {"data_dir": ["x/../../../ESCAPED", "y"]}, seeds=1)
    assert not (tmp_path / "ESCAPED").exists() and not list(tmp_path.parent.glob("ESCAPED"))
    for setting in result.runs:
        assert setting[0].path.resolve().is_relative_to(result.path.resolve())


def test_seeds_keep_one_data_split_and_vary_the_init(tmp_path):
    from mlplab.config import TrainConfig
    from mlplab.experiments.compare import compare

    base = TrainConfig(dataset="wine", epochs=1, out=str(tmp_path), hidden=(8,))
    result = compare(base, {}, seeds=2)
    a, b = result.runs[0]
    assert torch.equal(a.data.x_train, b.data.x_train) and torch.equal(a.data.x_test, b.data.x_test)
    assert (a.config.seed, b.config.seed) == (0, 1) and a.config.data_seed is None and b.config.data_seed == 0
    assert not torch.equal(a.model[1].weight, b.model[1].weight)


def test_a_full_disk_at_any_point_leaves_no_comparison_or_one_that_says_what_it_keeps(tmp_path, capsys):
    """``mlplab compare --out`` on a real tmpfs filled but for 0 B .. 160 KiB: one line naming the file, exit 2;
    no compare folder when no member trained, else one with compare.json whose every member can be resumed."""
    from conftest import full_disks, small_table, study_folder_kept

    data = small_table(tmp_path / "t.csv")
    argv = ["compare", "--data", str(data), "--target", "y", "--epochs", "1", "--hidden", "8", "--grid", "lr=0.1,0.2",
            "--quiet", "--baselines", "none"]
    # compare.json, member 1's checkpoint, its plots, member 2
    kept = {study_folder_kept(out, err, "compare.json", "members finished", "*/seed*/*/config.toml")
            for out, err in full_disks(tmp_path, capsys, argv, (0, 8 << 10, 64 << 10, 160 << 10))}
    assert kept == {False, True}  # gone, and kept


def test_a_member_that_diverges_first_leaves_no_comparison_folder(tmp_path, capsys):
    """A setting refused only once it trains (its loss turns NaN in epoch 1): nothing is left under --out."""
    from mlplab.cli.main import main

    out = tmp_path / "out"
    assert main(["compare", "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--quiet", "--out", str(out),
                 "--grid", "lr=1e30,0.1"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "became nan" in err, err
    assert not out.exists()  # not even --out, which was not there before


def test_sigterm_before_any_member_saved_an_epoch_leaves_no_comparison_folder(tmp_path):
    """A real ``mlplab compare`` sent SIGTERM as its first member starts: one line, exit 143, no traceback, and
    nothing left under --out (the member had no checkpoint, so the comparison held nothing)."""
    from conftest import last_error, small_table, terminated

    data, out = small_table(tmp_path / "t.csv", rows=2000), tmp_path / "out"  # batches of 1: a first epoch of ~1 s
    done = terminated(["compare", "--data", str(data), "--target", "y", "--epochs", "500", "--hidden", "8",
                       "--batch-size", "1", "--grid", "lr=0.1,0.2", "--quiet", "--baselines", "none", "--out",
                       str(out)], out, 0.0)
    err = last_error(done.stderr)
    assert done.returncode == 143 and "was removed" in err, err
    assert not out.exists()
