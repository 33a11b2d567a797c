"""What ``mlplab tune`` searches: a documented default space per model type, and ``--space FILE`` checked like a config.

A space maps a name to a range. The names are TrainConfig keys, plus ``width`` and ``depth``, which together make
``hidden`` (``depth`` layers of ``width``). A range is a TOML table::

    [lr]                      # a float: low..high, on a log scale when log = true
    low = 1e-4
    high = 3e-3
    log = true

    [depth]                   # an int key: integers low..high (step = 1 unless given)
    low = 1
    high = 4

    [batch_size]              # any key: one of a list of values
    choices = [128, 256, 512]

A file's ranges replace the default ones of the same name and add new ones; a key given as a flag
(``--dropout 0.1``) is fixed and not searched. The default for tables follows the searches of TabM (Gorishniy et
al. 2024, Optuna TPE over lr, width, depth, dropout, weight decay, the numeric embedding and its σ) and RealMLP-HPO
(Holzmüller et al. 2024), narrowed to what trains in seconds on 2 CPU cores.

>>> sorted(default_space("table"))  # doctest: +NORMALIZE_WHITESPACE
['batch_size', 'depth', 'dropout', 'ensemble', 'lr', 'numeric_embedding', 'numeric_embedding_sigma',
 'weight_decay', 'width']
"""

from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from mlplab.config import TrainConfig


@dataclass(frozen=True)
class Range:
    """One searched name: ``low``..``high`` (``log`` scale, ``step``) or one of ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None


def _log(low, high) -> Range:
    return Range(low, high, log=True)


SPACES = {
    "table": {"lr": _log(1e-4, 3e-3), "width": Range(64, 512, step=64), "depth": Range(1, 4),
              "dropout": Range(0.0, 0.4), "weight_decay": _log(1e-6, 1e-2), "numeric_embedding": Range(
                  choices=(0, 8, 16, 32)), "numeric_embedding_sigma": _log(0.01, 10.0),
              "ensemble": Range(choices=(0, 4)), "batch_size": Range(choices=(128, 256, 512))},
    "mlp": {"lr": _log(1e-4, 1e-1), "width": Range(64, 512, step=64), "depth": Range(1, 3),
            "dropout": Range(0.0, 0.5), "weight_decay": _log(1e-6, 1e-2), "batch_size": Range(choices=(32, 64, 128))},
    "cnn": {"lr": _log(3e-4, 1e-2), "dropout": Range(0.0, 0.5), "weight_decay": _log(1e-6, 1e-2),
            "batch_size": Range(choices=(64, 128, 256))},
    "rnn": {"lr": _log(3e-4, 1e-2), "width": Range(32, 256, step=32), "depth": Range(1, 2),
            "batch_size": Range(choices=(64, 128, 256))},
}
SPACES["lenet"] = SPACES["cnn"]
SPACES["lstm"] = SPACES["rnn"]
SHAPE = ("width", "depth")  # together: hidden
NOT_SEARCHED = {"seed": "each trial trains with the base seed, so trials differ only in the searched keys",
                "data_seed": "trials share one data split", "out": "use --out", "hidden": "search width and depth",
                "cv_folds": "tune folds with mlplab cv", "cv_fold": "tune folds with mlplab cv",
                "data": "use --data", "target": "use --target", "test": "use --test", "dataset": "use --dataset",
                "data_dir": "use --data-dir", "device": "use --device", "module": "train(model=...)"}
FIELDS = ("low", "high", "log", "step", "choices")


def default_space(kind: str) -> dict[str, Range]:
    """The default space of a model type (``table`` for an MLP on a table); ``module`` has none."""
    if kind not in SPACES:
        raise ValueError(f"no default search space for model {kind!r}; give one with --space FILE "
                         f"(default spaces: {', '.join(SPACES)})")
    return dict(SPACES[kind])


def space_kind(config: TrainConfig) -> str:
    """``table`` for an MLP on a table file, else the model type."""
    return "table" if config.model == "mlp" and config.data is not None else config.model


def read_space(path: str | Path) -> dict[str, Range]:
    """The ranges a ``--space`` TOML file sets, each checked; ValueError naming the file, the name and the fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--space file {path} not found; check the path") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise ValueError(f"--space file {path} is not a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"--space file {path} is not valid TOML: {e}") from None
    try:
        return {name: parse_range(name, spec) for name, spec in data.items()}
    except (TypeError, ValueError) as e:
        raise ValueError(f"--space file {path}: {e}") from None


def _valid_names() -> list[str]:
    return [*SHAPE, *(f.name for f in fields(TrainConfig) if f.name not in NOT_SEARCHED)]


def parse_range(name: str, spec) -> Range:
    """One ``[name]`` table as a Range, checked against the config key it sets."""
    if name in NOT_SEARCHED:
        raise ValueError(f"[{name}] is not searched: {NOT_SEARCHED[name]}")
    if name not in _valid_names():
        raise ValueError(f"unknown name [{name}]; searchable: {', '.join(_valid_names())}")
    if not isinstance(spec, dict):
        raise ValueError(f"[{name}] must be a table, e.g. [{name}] low = 0.1 high = 0.5, or choices = [...]; "
                         f"got {name} = {spec!r}")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise ValueError(f"[{name}] has unknown field(s) {', '.join(unknown)}; a range takes {', '.join(FIELDS)}")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise ValueError(f"[{name}] takes either choices = [...] or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or any(isinstance(c, (list, dict)) for c in choices):
            raise ValueError(f"[{name}] choices must be a non-empty list of single values, e.g. choices = [1, 2]; "
                             f"got {choices!r}")
        found = Range(choices=tuple(choices))
    else:
        found = _bounds(name, spec)
    check_range(name, found)
    return found


def _bounds(name: str, spec: dict) -> Range:
    if "low" not in spec or "high" not in spec:
        raise ValueError(f"[{name}] needs low and high (or choices = [...])")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    for field, value in (("low", low), ("high", high), ("step", step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise ValueError(f"[{name}] {field} must be a finite number; got {value!r}")
    if not isinstance(log, bool):
        raise ValueError(f"[{name}] log must be true or false; got {log!r}")
    if not low < high:
        raise ValueError(f"[{name}] needs low < high; got low = {low}, high = {high}")
    if log and low <= 0:
        raise ValueError(f"[{name}] log = true needs low > 0; got low = {low}")
    if step is not None and (step <= 0 or log):
        raise ValueError(f"[{name}] step must be > 0 and not with log = true; got step = {step}")
    return Range(low, high, log, step)


def kind_of(name: str):
    """``int``, ``float`` or another type: what the name's values are (an int key searches integers)."""
    if name in SHAPE:
        return int
    hint = typing.get_type_hints(TrainConfig)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return args[0]
    return args[0] if args else hint


def check_range(name: str, found: Range) -> None:
    """A range's values must make a valid config: its ends, or each choice (``dropout`` high 1.5 fails here)."""
    kind = kind_of(name)
    if found.choices is None and kind not in (int, float):
        raise ValueError(f"[{name}] is not a number; list its values: choices = [...]")
    if found.choices is None and kind is int and not all(float(v).is_integer() for v in (found.low, found.high)):
        raise ValueError(f"[{name}] takes integers; got low = {found.low}, high = {found.high}")
    values = found.choices if found.choices is not None else (found.low, found.high)
    for value in values:
        try:
            TrainConfig().replace(**config_keys({name: int(value) if kind is int and found.choices is None
                                                 else value}))
        except (TypeError, ValueError) as e:
            raise ValueError(f"[{name}] value {value!r}: {e}") from None


def merged(kind: str, ranges: dict[str, Range] | None, fixed: typing.Collection[str]) -> dict[str, Range]:
    """The space a tune searches: the default of ``kind``, a file's ``ranges`` (read_space) over it, less the
    ``fixed`` keys (those the user gave as flags; ``hidden`` fixes width and depth)."""
    space = {**(default_space(kind) if ranges is None or kind in SPACES else {}), **(ranges or {})}
    drop = set(fixed) | (set(SHAPE) if "hidden" in fixed else set())
    space = {k: v for k, v in space.items() if k not in drop}
    if not space:
        raise ValueError("nothing left to search: every name of the space is fixed by a flag; drop a flag or add "
                         "ranges with --space FILE")
    return space


def config_keys(params: dict, base_hidden: tuple[int, ...] = (256,)) -> dict:
    """Sampled values as config keys: ``width``/``depth`` make ``hidden``; a per-layer key gets one value.

    >>> config_keys({"width": 128, "depth": 2, "dropout": 0.1, "lr": 0.01})
    {'dropout': (0.1,), 'lr': 0.01, 'hidden': (128, 128)}
    """
    keys = {}
    hints = typing.get_type_hints(TrainConfig)
    for name, value in params.items():
        if name in SHAPE:
            continue
        keys[name] = (value,) if typing.get_origin(hints[name]) is tuple else value
    if "width" in params or "depth" in params:
        width = params.get("width", base_hidden[0] if base_hidden else 256)
        keys["hidden"] = (int(width),) * int(params.get("depth", len(base_hidden) or 1))
    return keys


def suggest(trial, space: dict[str, Range]) -> dict:
    """One value per name from an Optuna trial (TPE samples them), by the name's type."""
    params = {}
    for name, r in space.items():
        if r.choices is not None:
            params[name] = trial.suggest_categorical(name, list(r.choices))
        elif kind_of(name) is int:
            params[name] = trial.suggest_int(name, int(r.low), int(r.high), step=int(r.step or 1), log=r.log)
        else:
            params[name] = trial.suggest_float(name, float(r.low), float(r.high), step=r.step, log=r.log)
    return params


def describe(space: dict[str, Range]) -> dict:
    """The space as plain data (tune.json; a joining worker checks it is the same)."""
    return {name: ({"choices": list(r.choices)} if r.choices is not None else
                   {"low": r.low, "high": r.high, "log": r.log, **({"step": r.step} if r.step else {})})
            for name, r in sorted(space.items())}
