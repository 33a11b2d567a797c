"""Digests in every checkpoint and weights file: a single flipped byte anywhere is refused, naming the file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
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
