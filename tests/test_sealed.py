"""Digests in every checkpoint and weights file, and a manifest over the run folder: a single flipped byte
anywhere, an edited file or one swapped in from another run is refused, naming the file."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save

from mlplab.config import TrainConfig
from mlplab.models.build import build_model
from mlplab.runs.checkpoint import load_checkpoint, save_checkpoint
from mlplab.runs.rundir import load_weights, save_weights
from mlplab.runs.sealed import CorruptFile, seal, unseal
from mlplab.training.fit import History
from mlplab.training.optim import build_optimizer


def real_checkpoint(folder: Path) -> Path:
    config = TrainConfig(dataset="iris", hidden=(6,), optimizer="adam", lr=0.01, device="cpu")
    model = build_model(config, (4,), "multiclass", 3)
    opt = build_optimizer(config, model)
    opt.zero_grad()
    model(torch.randn(5, 4)).square().mean().backward()
    opt.step()
    history = History([{"epoch": 1, "train_loss": 0.5, "seconds": 0.1}])
    return save_checkpoint(folder, config=config, history=history, model=model, opt=opt)


def regions(raw: bytes) -> dict[str, range]:
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n]
    meta = header.index(b'"__metadata__"')
    return {"length prefix": range(0, 8), "tensor header": range(8, 8 + meta),
            "metadata": range(8 + meta, 8 + n), "tensor data": range(8 + n, len(raw))}


@pytest.mark.parametrize("flip", ["xor 0xff", "one bit"])
def test_a_flipped_byte_anywhere_in_a_checkpoint_is_refused_naming_it(tmp_path, flip):
    path = real_checkpoint(tmp_path)
    raw = path.read_bytes()
    rng = random.Random(0)
    for region, span in regions(raw).items():
        for pos in rng.sample(list(span), min(40, len(span))):
            bad = bytearray(raw)
            bad[pos] ^= 0xFF if flip == "xor 0xff" else 1 << rng.randrange(8)
            path.write_bytes(bytes(bad))
            with pytest.raises(ValueError, match=str(path)) as e:
                load_checkpoint(tmp_path)
            assert "\n" not in str(e.value), (region, pos)
    path.write_bytes(raw)
    assert load_checkpoint(tmp_path).epoch == 1


def test_a_flipped_byte_in_model_weights_is_refused_naming_it(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    path = save_weights(model, tmp_path / "model.safetensors", metadata={"config": "{}"})
    raw = path.read_bytes()
    rng = random.Random(1)
    for pos in rng.sample(range(len(raw)), 80):
        bad = bytearray(raw)
        bad[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(bad))
        with pytest.raises(ValueError, match=str(path)):
            load_weights(torch.nn.Sequential(torch.nn.Linear(4, 3)), path)


def test_seal_round_trips_every_dtype_and_shape(tmp_path):
    tensors = {"f": torch.randn(3, 2), "d": torch.randn(2, dtype=torch.float64), "i": torch.arange(4),
               "u": torch.tensor([1, 2], dtype=torch.uint8), "s": torch.tensor(3.5), "e": torch.zeros(0, 3),
               "b": torch.tensor([True, False]), "h": torch.randn(2, dtype=torch.bfloat16)}
    (tmp_path / "x").write_bytes(seal(tensors, {"k": "v"}))
    back, meta = unseal(tmp_path / "x")
    assert meta["k"] == "v" and back.keys() == tensors.keys()
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_files_without_digests_are_refused_unless_legacy_is_allowed(tmp_path):
    (tmp_path / "old").write_bytes(save({"w": torch.ones(2)}, metadata={"config": "{}"}))
    with pytest.raises(CorruptFile, match="carries no digests"):
        unseal(tmp_path / "old")
    assert unseal(tmp_path / "old", required=False)[1] == {"config": "{}"}
    load_weights(torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.zeros(2))}), tmp_path / "old")  # pre-digest


# ---- a run folder is one sealed whole (manifest.json) ----------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny table runs of the same shape (seeds 0 and 1) and their data file."""
    pytest.importorskip("pyarrow")
    from mlplab.cli.main import main

    root = tmp_path_factory.mktemp("sealed-runs")
    lines = ["a,b,c,y"] + [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{'xyz'[i % 3]},{'=yes' if i % 7 + i % 5 > 5 else 'no'}"
                           for i in range(90)]
    data = root / "t.csv"
    data.write_text("\n".join(lines) + "\n")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed in (0, 1):
            assert main(["train", "--data", str(data), "--target", "y", "--epochs", "2", "--hidden", "6", "--out",
                         str(root / f"runs{seed}"), "--quiet", "--device", "cpu", "--seed", str(seed)]) == 0
    finally:
        torch.set_num_threads(n)
    return next((root / "runs0").iterdir()), next((root / "runs1").iterdir()), data


def predict_cli(run: Path, data: Path, out: Path, capsys) -> tuple[int, str, bytes | None]:
    from mlplab.cli.main import main

    code = main(["predict", str(run), "--data", str(data), "--out", str(out), "--proba"])
    err = capsys.readouterr().err
    return code, err, out.read_bytes() if out.exists() else None


def edit_config(text: str) -> str:
    return text.replace('"relu"', '"tanh"') if '"relu"' in text else text.replace("seed = 0", "seed = 5")


EDITS = {  # file -> what a person (or a bad copy) might do to it
    "config.toml": edit_config,
    "data.json": lambda t: t.replace('"binary"', '"multiclass"', 1),
    "data.json reversed classes": lambda t: t.replace('"=yes"', '"@@"').replace('"no"', '"=yes"').replace('"@@"', '"no"'),
    "metrics.json": lambda t: t.replace('"memory_format"', '"memory_formats"', 1),
    "history.csv": lambda t: t + "9,0,0,0,0,0\n",
    "metrics.json as a list": lambda t: "[1, 2]\n",
    "manifest.json": lambda t: t.replace('"config.toml"', '"config.tom"'),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_run_file_is_refused_naming_it(two_runs, tmp_path, capsys, edit):
    run0, _, data = two_runs
    run = Path(shutil.copytree(run0, tmp_path / "run"))
    name = edit.split()[0]
    before = (run / name).read_text()
    after = EDITS[edit](before)
    assert after != before
    (run / name).write_text(after)
    code, err, out = predict_cli(run, data, tmp_path / "p.csv", capsys)
    assert code == 2 and out is None and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(run / name) in err or f"{run}/{name}" in err or (name == "manifest.json" and "config.toml" in err), err
    assert "retrain" in err or "restore" in err


@pytest.mark.parametrize("name", ["model.safetensors", "preprocessing.safetensors", "data.json", "config.toml"])
def test_a_file_swapped_in_from_another_run_of_the_same_shape_is_refused(two_runs, tmp_path, capsys, name):
    run0, run1, data = two_runs
    run = Path(shutil.copytree(run0, tmp_path / "run"))
    shutil.copyfile(run1 / name, run / name)
    code, err, _ = predict_cli(run, data, tmp_path / "p.csv", capsys)
    assert code == 2 and str(run / name) in err and len(err.strip().splitlines()) == 1, err


def test_weights_are_tied_to_the_config_they_were_trained_with(two_runs, tmp_path):
    """Even with a manifest rewritten to match, another run's weights do not load under this config."""
    from mlplab.runs.run import load_run
    from mlplab.runs.sealed import MANIFEST, manifest_bytes

    run0, run1, _ = two_runs
    run = Path(shutil.copytree(run0, tmp_path / "run"))
    shutil.copyfile(run1 / "model.safetensors", run / "model.safetensors")
    (run / MANIFEST).write_bytes(manifest_bytes(run))
    with pytest.raises(ValueError, match="model.safetensors was trained with other settings .* seed"):
        load_run(run)


@pytest.mark.parametrize("name", ["manifest.json", "config.toml", "data.json", "model.safetensors"])
def test_a_missing_run_file_is_refused_naming_it(two_runs, tmp_path, capsys, name):
    run0, _, data = two_runs
    run = Path(shutil.copytree(run0, tmp_path / "run"))
    (run / name).unlink()
    code, err, _ = predict_cli(run, data, tmp_path / "p.csv", capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert name in err or "no config.toml" in err, err


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_byte_flips_over_every_file_of_a_run_are_refused_or_change_nothing(two_runs, tmp_path_factory, capsys, data):
    """Flip one byte of any file in the folder: predict refuses it in one line naming a file, or (a file for
    people: a PNG, metrics.md, columns.md; the checkpoint, which only resume reads) predicts exactly as before."""
    from mlplab.runs.sealed import SEALED

    run0, _, table = two_runs
    tmp = tmp_path_factory.mktemp("flip")
    baseline = tmp / "base.csv"
    assert predict_cli(run0, table, baseline, capsys)[0] == 0
    run = Path(shutil.copytree(run0, tmp / "run"))
    name = data.draw(st.sampled_from(sorted(p.name for p in run.iterdir() if p.is_file())), label="file")
    raw = bytearray((run / name).read_bytes())
    at = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[at] ^= data.draw(st.integers(1, 255), label="xor")
    (run / name).write_bytes(bytes(raw))
    code, err, out = predict_cli(run, table, tmp / "p.csv", capsys)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and out is None
        assert str(run) in err, err
    else:
        assert code == 0 and name not in SEALED + ("manifest.json",), (name, err)
        assert out == baseline.read_bytes()
