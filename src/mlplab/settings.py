"""One road through settings: the single function that decides what a run trains with.

``resolve`` layers its sources in one fixed order, each over the one before:

1. TrainConfig's defaults;
2. the model type's defaults (``MODEL_DEFAULTS``: ``--model cnn`` alone trains well);
3. the data's preset (mlplab.training.presets: a table's recipe by its task and size);
4. a TOML config file;
5. flags or keyword arguments.

and returns the TrainConfig with the keys the user gave (4 and 5), which no preset overrides. The CLI,
``mlplab.train``, compare members, cv folds and tuning trials all call it, so the same keys reach the same
TrainConfig through every door. Names (optimizer, activation, loss, ...) are checked here, where the
registries are imported, not in the leaf mlplab.config.

>>> s = resolve({"model": "cnn", "lr": 0.01})
>>> s.config.optimizer, s.config.lr, sorted(s.given)
('adam', 0.01, ['lr', 'model'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlplab.config import TrainConfig, read_config_file
from mlplab.registry import lookup


@dataclass(frozen=True)
class Settings:
    """A resolved TrainConfig, and the keys the user gave (a file's, then flags' or keywords') by value."""

    config: TrainConfig
    keys: Mapping

    @property
    def given(self) -> frozenset[str]:
        return frozenset(self.keys)


def user_keys(keys: Mapping | None = None, file: str | Path | None = None) -> dict:
    """A config file's keys, then ``keys`` over them; an unknown key or a wrong type is an error here."""
    merged = {**(read_config_file(file) if file is not None else {}), **(keys or {})}
    TrainConfig().replace(**merged)  # unknown keys and wrong types fail now, naming the key
    return merged


def resolve(keys: Mapping | None = None, *, file: str | Path | None = None, data=None) -> Settings:
    """The TrainConfig for ``keys`` (flags or keywords) over ``file`` (TOML) over ``data``'s preset over the
    model type's defaults over TrainConfig's; see the module docstring.

    ``data``: the Dataset the run trains on, when read (a table gets the preset of its task and size); None
    before it is read (a table file named in the keys gets the preset of a small classification table, enough
    to read it with).
    """
    from mlplab.models.build import MODEL_DEFAULTS

    given = user_keys(keys, file)
    model = given.get("model", TrainConfig.model)
    layered = {**MODEL_DEFAULTS.get(model, {}), **preset(data, given), **given}
    config = TrainConfig().replace(**layered)
    if config.data_dir is not None:  # stored absolute, so the run's config.toml works from any folder
        config = config.replace(data_dir=str(Path(config.data_dir).expanduser().resolve()))
    check_names(config)
    return Settings(config, given)


def preset(data, given: Mapping) -> dict:
    """The preset keys of the data: a table's (mlplab.training.presets), nothing for other data."""
    is_table = getattr(data, "columns", None) is not None or (data is None and given.get("data") is not None)
    if not is_table or given.get("model", TrainConfig.model) != "mlp":
        return {}
    from mlplab.training.presets import TABLE, table_keys

    return {**TABLE, **table_keys(data)}


def check_names(config: TrainConfig) -> None:
    """Every name in ``config`` is one its registry knows; else ValueError listing the valid ones."""
    from mlplab.data.augment import AUGMENTS
    from mlplab.models.activations import ACTIVATIONS
    from mlplab.models.build import MODELS
    from mlplab.models.init import parse_init
    from mlplab.registry import IMPLS
    from mlplab.training.device import parse_device
    from mlplab.training.losses import LOSSES
    from mlplab.training.optim import OPTIMIZERS
    from mlplab.training.schedules import SCHEDULES
    from mlplab.training.step import AMP, BACKPROPS

    lookup(IMPLS, config.impl, "impl")
    lookup(MODELS, config.model, "model")
    lookup(OPTIMIZERS, config.optimizer, "optimizer")
    for name in config.activation:
        lookup(ACTIVATIONS, name, "activation")
    for spec in config.init:
        parse_init(spec)
    try:
        parse_init(config.bias_init)
    except ValueError as e:
        raise ValueError(f"bias_init: {e}; e.g. --bias-init zeros, ones or constant:0.1") from None
    if config.loss is not None:
        lookup(LOSSES, config.loss, "loss")
    lookup(SCHEDULES, config.schedule, "schedule")
    lookup(AUGMENTS, config.augment, "augment")
    if config.amp is not None:
        lookup(AMP, config.amp, "amp")
    lookup(dict.fromkeys(BACKPROPS), config.backprop, "backprop")
    parse_device(config.device)
    check_optimizer_keys(config)


OPTIMIZER_KEYS = {"dampening": ("sgd",), "betas": ("adam", "adamax"), "amsgrad": ("adam",),
                  "alpha": ("rmsprop",), "rho": ("adadelta",), "momentum": ("sgd", "rmsprop"),
                  "nesterov": ("sgd",), "eps": ("adam", "adamax", "rmsprop", "adagrad", "adadelta")}


def check_optimizer_keys(config: TrainConfig) -> None:
    """An optimizer hyperparameter set for an optimizer that has none such is an error, never ignored."""
    default = TrainConfig()
    for key, takers in OPTIMIZER_KEYS.items():
        if getattr(config, key) != getattr(default, key) and config.optimizer not in takers:
            raise ValueError(f"optimizer {config.optimizer!r} takes no {key} (a setting of {', '.join(takers)}); "
                             f"drop {key} or choose --optimizer {takers[0]}")
