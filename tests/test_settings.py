"""mlplab.settings: one resolution of settings, whatever door the keys come through.

For a table file and for a named set, the same keys given as CLI flags, in a --config TOML, to
``mlplab.train(**keys)``, as ``TrainConfig(**keys)``, to a compare member and to a cv fold resolve to the
identical TrainConfig (the fold's names its fold as well; nothing else differs). Hypothesis draws the keys.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tomli_w
from conftest import ONE_THREAD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab.cli.flags import settings_from_args
from mlplab.cli.main import build_parser
from mlplab.config import TrainConfig
from mlplab.experiments.compare import member_keys
from mlplab.runs.train import prepare
from mlplab.settings import resolve

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OPTIMIZERS = {  # each optimizer with keys only it takes
    "sgd": st.fixed_dictionaries({}, optional={"momentum": st.sampled_from([0.5, 0.9]),
                                               "dampening": st.sampled_from([0.1, 0.5])}),
    "adam": st.fixed_dictionaries({}, optional={"betas": st.sampled_from([(0.9, 0.95), (0.8, 0.99)]),
                                                "eps": st.sampled_from([1e-7, 1e-6]), "amsgrad": st.just(True)}),
    "rmsprop": st.fixed_dictionaries({}, optional={"alpha": st.sampled_from([0.9, 0.95])}),
}
COMMON = {"lr": st.sampled_from([0.1, 3e-3, 5e-4]), "epochs": st.integers(1, 50),
          "batch_size": st.sampled_from([16, 64, 256]), "hidden": st.sampled_from([(8,), (32, 16)]),
          "activation": st.sampled_from([("relu",), ("tanh",)]), "dropout": st.sampled_from([(0.0,), (0.2,)]),
          "schedule": st.sampled_from(["none", "cosine"]), "weight_decay": st.sampled_from([0.0, 1e-4]),
          "label_smoothing": st.sampled_from([0.0, 0.05]), "early_stopping": st.sampled_from([3, 8]),
          "bias_init": st.sampled_from(["zeros", "constant:0.1"]), "grad_clip": st.sampled_from([0.0, 1.0]),
          "seed": st.integers(0, 5)}


@st.composite
def user_keys(draw):
    """A few keys a user might set, valid together."""
    keys = draw(st.fixed_dictionaries({}, optional=COMMON))
    optimizer = draw(st.sampled_from([None, *OPTIMIZERS]))
    if optimizer is not None:
        keys["optimizer"] = optimizer
        keys.update(draw(OPTIMIZERS[optimizer]))
    return keys


def argv(keys: dict) -> list[str]:
    """The keys as flags, written as a user types them."""
    out = []
    for key, value in keys.items():
        flag = "--" + {"early_stopping": "early-stop"}.get(key, key.replace("_", "-"))
        if value is True:
            out.append(flag)
        elif isinstance(value, tuple):
            out += [flag, ",".join(map(str, value))]
        else:
            out += [flag, str(value)]
    return out


def table(path):
    rng = np.random.default_rng(0)
    n = 240
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(a + (colour == "red") + rng.normal(0, 0.5, n) > 0.3, "yes", "no")
    path.write_text("a,b,colour,y\n" + "".join(f"{p:.4f},{q:.4f},{c},{t}\n" for p, q, c, t in zip(a, b, colour, y)))
    return path


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    return table(tmp_path_factory.mktemp("settings") / "shop.csv")


def doors(data: dict, keys: dict, tmp_path) -> dict[str, TrainConfig]:
    """The TrainConfig each door resolves ``data`` + ``keys`` to, as that door would train with it."""
    both = {**data, **keys}
    parser = build_parser()
    flags = settings_from_args(parser.parse_args(["train", *argv(both)]))
    toml = tmp_path / "run.toml"
    toml.write_text(tomli_w.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in both.items()}))
    from_file = settings_from_args(parser.parse_args(["train", "--config", str(toml)]))
    member = member_keys(flags, {}, 1)[0][0]
    return {
        "flags": prepare(**flags.keys).config,
        "toml": prepare(**from_file.keys).config,
        "train(data, **keys)": prepare(data.get("data", data.get("dataset")),
                                       **{k: v for k, v in both.items() if k not in ("data", "dataset")}).config,
        "TrainConfig(**keys)": prepare(config=TrainConfig(**both)).config,
        "compare member": prepare(**member).config,
        "cv fold": prepare(**both, cv_folds=3, cv_fold=2).config.replace(cv_folds=0, cv_fold=0),
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=user_keys())
def test_every_door_resolves_a_table_to_the_same_config(keys, table_file, tmp_path):
    configs = doors({"data": str(table_file), "target": "y"}, keys, tmp_path)
    first = configs["flags"]
    for door, config in configs.items():
        assert config == first, f"{door} differs from the flags: " + ", ".join(
            f"{k}: {getattr(config, k)!r} vs {getattr(first, k)!r}" for k in TrainConfig.__dataclass_fields__
            if getattr(config, k) != getattr(first, k))
    for key, value in keys.items():  # what the user gave wins over every preset
        assert getattr(first, key) == value
    preset = resolve({"data": str(table_file), "target": "y"}, data=mlplab.Dataset.from_table(table_file, "y")).config
    for key in ("optimizer", "schedule", "hidden", "lr"):  # the table's preset where the user said nothing
        if key not in keys:
            assert getattr(first, key) == getattr(preset, key)
    assert preset.optimizer == "adam" and preset.schedule == "cosine"  # not TrainConfig's sgd / none


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=user_keys())
def test_every_door_resolves_a_named_set_to_the_same_config(keys, tmp_path):
    configs = doors({"dataset": "digits"}, keys, tmp_path)
    first = configs["flags"]
    for door, config in configs.items():
        assert config == first, door
    assert first == TrainConfig(dataset="digits", **keys)  # a named set has no preset: the defaults and the keys


def test_the_layers_come_in_order():
    """defaults < model type < data preset < file < keys."""
    assert resolve().config == TrainConfig()
    assert resolve({"model": "lenet"}).config.lr == 0.9                      # the type's default
    assert resolve({"model": "cnn"}).config.optimizer == "adam"
    assert resolve({"model": "lenet", "lr": 0.1}).config.lr == 0.1           # the user's
    assert resolve({"data": "t.csv", "target": "y"}).config.optimizer == "adam"  # a table's preset


def test_a_file_is_under_the_keys(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('lr = 0.5\noptimizer = "adam"\n')
    s = resolve({"lr": 0.01}, file=toml)
    assert (s.config.lr, s.config.optimizer, s.given) == (0.01, "adam", {"lr", "optimizer"})


@pytest.mark.parametrize("keys, message", [({"optimizer": "adamw"}, "unknown optimizer 'adamw'; valid optimizers"),
                                           ({"optimizer": "adam", "momentum": 0.9}, "takes no momentum"),
                                           ({"optimizer": "sgd", "betas": (0.9, 0.95)}, "takes no betas"),
                                           ({"lr": "fast"}, "must be a number"), ({"lrr": 0.1}, "unknown config key")])
def test_bad_keys_fail_naming_the_key(keys, message):
    with pytest.raises((ValueError, TypeError), match=message):
        resolve(keys)


def test_the_cli_trains_with_what_train_resolves(table_file, tmp_path):
    """A real CLI process and mlplab.train on the same keys write the same config.toml."""
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "mlplab", "train", "--data", str(table_file), "--target", "y",
                        "--epochs", "2", "--lr", "0.003", "--baselines", "none", "--quiet", "--out", str(out)],
                       capture_output=True, text=True, env=ONE_THREAD, timeout=300)
    assert r.returncode == 0, r.stderr
    (folder,) = out.iterdir()
    cli = mlplab.load_run(folder).config
    run = mlplab.train(data=str(table_file), target="y", epochs=2, lr=0.003, baselines="none", progress="quiet")
    assert run.config == cli.replace(out=run.config.out)
