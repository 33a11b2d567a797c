"""The run configuration: a frozen dataclass with commented defaults, read from TOML, overridden strictly.

Unknown keys, wrong types and values out of range are errors that name the key, what it takes and what came
instead. A leaf: it imports nothing of mlplab. Names (optimizer, activation, loss, ...) are checked where their
registries live, when settings are resolved (mlplab.settings), and what a run starts from is decided there too.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path

import tomli_w

TASKS = ("auto", "multiclass", "binary", "regression")  # a table's task: auto from the target column


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = "digits"              # a name in mlplab.data.load.DATASETS (or the name of your own Dataset)
    data_dir: str | None = None          # IDX folder for (fashion-)mnist; else $MLPLAB_DATA, else the user cache
    val_fraction: float | None = None    # None: 0.2 for bundled/synthetic sets, 0 for the image sets
    # model
    model: str = "mlp"                   # mlp, cnn, lenet, rnn, lstm (mlplab.models.build.MODELS); "module": your own
    module: str | None = None            # your own nn.Module's class as package.module:Class (train(model=...) sets it)
    spec: str | None = None              # CNN layers, e.g. "conv:32:3:pad1,bn,relu,maxpool:2"; None: the preset
    impl: str = "torch"                  # "torch" (torch.nn) or "scratch" (nn.Parameter, X @ W + b)
    hidden: tuple[int, ...] = (256,)     # hidden widths (rnn/lstm: the state size, one entry per layer)
    activation: tuple[str, ...] = ("relu",)  # one, or one per hidden layer
    dropout: tuple[float, ...] = (0.0,)  # one, or one per hidden layer; in [0, 1)
    init: tuple[str, ...] = ("default",)  # one, or one per affine layer: "normal:0.01", "xavier_uniform", ...
    bias: bool = True
    bias_init: str = "default"           # biases: default (as torch: U(±1/√fan_in); scratch zeros), zeros, ones,
    #                                      constant:0.1, ... (mlplab.models.init)
    ensemble: int = 0                    # mlp: k > 1 trains k members sharing one MLP (TabM-mini), predicts their mean
    numeric_embedding: int = 0           # mlp: k > 0 embeds each numeric column periodically (PLR), k frequencies
    numeric_embedding_sigma: float = 1.0  # the PLR frequencies' initial spread σ: smaller starts smoother
    # optimisation
    optimizer: str = "sgd"               # sgd, rmsprop, adagrad, adadelta, adam, adamax
    lr: float = 0.1
    momentum: float = 0.0                # sgd and rmsprop only
    nesterov: bool = False               # sgd only
    dampening: float = 0.0               # sgd only: momentum dampening, as torch.optim.SGD
    betas: tuple[float, ...] = ()        # adam, adamax: (beta1, beta2); empty: torch's (0.9, 0.999)
    eps: float | None = None             # adam, adamax, rmsprop, adagrad, adadelta: None: torch's default
    alpha: float | None = None           # rmsprop: smoothing constant; None: torch's 0.99
    rho: float | None = None             # adadelta: decay of the running averages; None: torch's 0.9
    amsgrad: bool = False                # adam: the AMSGrad variant
    grad_clip: float = 0.0               # clip the gradients' global norm to this before each step; 0: off
    weight_decay: float = 0.0            # L2 on weights, never on biases
    loss: str | None = None              # None: cross_entropy / bce_with_logits / mse by task
    epochs: int = 20
    batch_size: int = 64
    schedule: str = "none"               # lr per batch: none, cosine, onecycle (mlplab.training.schedules)
    augment: str = "none"                # image batches: none, flip, shift, flip-shift (mlplab.data.augment)
    # run
    seed: int = 0
    device: str = "auto"                 # auto: CUDA when available, else CPU
    out: str = "runs"                    # parent folder of run folders
    checkpoint_every: float = 10.0       # seconds between checkpoints (and history.csv) while training; 0: every
    #                                      epoch. The first and the last epoch are always saved.
    compile: bool = False                # train through torch.compile (CUDA graphs on a GPU)
    amp: str | None = None               # "bf16": forward and loss under bfloat16 autocast
    backprop: str = "auto"               # auto (by hand where it applies: mlplab.training.backprop), hand, autograd
    inspect: bool = False                # per-layer statistics per epoch: layers.csv, run.layers (mlplab.training.inspect)
    # stopping early
    early_stopping: int | None = None    # patience: stop after that many epochs without improvement, keep the best
    monitor: str = "val_loss"            # the history column early stopping watches (losses down, accuracies up)
    ema: float = 0.0                     # weight averaging: decay per step of an exponential moving average of the
    #                                      weights, which evaluation, early stopping and the final model use; 0: off
    data_seed: int | None = None         # the seed of the data split; None: seed (compare keeps one split per grid)
    cv_folds: int = 0                    # cross-validation: this run trains on fold ``cv_fold`` of ``cv_folds`` of
    cv_fold: int = 0                     #   the training pool (mlplab cv sets both); 0: not a fold
    # tables (mlplab train --data FILE --target COLUMN: mlplab.data.tabular); runs without --data ignore them
    data: str | None = None              # a CSV/TSV/Parquet/npy/npz file; the run folder is named after its stem
    target: str | None = None            # the column to predict
    task: str = "auto"                   # auto (from the target column), multiclass, binary, regression
    drop: tuple[str, ...] = ()           # columns not to use
    categorical: tuple[str, ...] = ()    # columns one-hot encoded whatever they hold
    numeric: tuple[str, ...] = ()        # columns scaled as numbers
    na_values: tuple[str, ...] = ()      # more cell texts that mean "missing" (besides "", NA, NaN, null, ?, ...)
    test: str | None = None              # a separate labelled table to test on (else 20% of --data's rows)
    allow_leak: tuple[str, ...] = ()     # columns kept although they restate the target (refused otherwise)
    class_weight: str | None = None      # "balanced": class c weighs n / (C · n_c) in the training loss
    label_smoothing: float = 0.0         # classification only: train on (1 − ε)·onehot + ε/C (cross entropy, BCE)
    keep: tuple[str, ...] = ()           # columns kept although they look like a row ID (unique per row)
    baselines: str = "auto"              # tables: fit a linear model and HistGradientBoosting on the same split
    #                                      beside the net (auto: when cheap next to it), or none

    def __post_init__(self):
        for f in fields(self):
            value, hint = getattr(self, f.name), _hints()[f.name]
            if type(value) is int and float in (hint, *typing.get_args(hint)):  # lr=1 means 1.0, as in Python
                object.__setattr__(self, f.name, float(value))
                continue
            check_type(f.name, value, hint)
        for key in ("lr", "epochs", "batch_size"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} must be positive; got {getattr(self, key)!r}")
        for key in ("activation", "dropout", "init"):
            if not getattr(self, key):
                raise ValueError(f"{key} needs at least one value")
        if any(w <= 0 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive integers, e.g. --hidden 256,256; got {list(self.hidden)}")
        if any(not 0 <= p < 1 for p in self.dropout):
            raise ValueError(f"dropout must be in [0, 1), e.g. --dropout 0.5; got {list(self.dropout)}")
        if self.val_fraction is not None and not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1); got {self.val_fraction}")
        for key in ("momentum", "weight_decay"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0; got {getattr(self, key)!r}")
        for key in ("lr", "momentum", "weight_decay"):  # NaN passes every comparison above
            if not math.isfinite(getattr(self, key)):
                raise ValueError(f"{key} must be a finite number; got {getattr(self, key)!r}")
        if any(w >= 2**31 for w in self.hidden):
            raise ValueError(f"hidden widths must be below 2**31; got {list(self.hidden)}")
        if not 0 <= self.numeric_embedding < 2**31:
            raise ValueError(f"numeric_embedding is a number of frequencies, e.g. --numeric-embedding 16, or 0 for "
                             f"none; got {self.numeric_embedding}")
        if not (math.isfinite(self.numeric_embedding_sigma) and 0 < self.numeric_embedding_sigma <= 1e6):
            raise ValueError(f"numeric_embedding_sigma is the spread of the embedding's first frequencies, a "
                             f"positive number such as 0.1 or 1; got {self.numeric_embedding_sigma!r}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema is a decay per step in [0, 1), e.g. 0.99 (0: no weight averaging); got {self.ema!r}")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise ValueError(f"early_stopping is a patience in epochs and must be >= 1, e.g. --early-stop 5; "
                             f"got {self.early_stopping}")
        self._check_table()
        self._check_optimizer()
        if self.cv_folds == 1 or self.cv_folds < 0 or not 0 <= self.cv_fold <= self.cv_folds or (
                self.cv_folds and not self.cv_fold):
            raise ValueError(f"cv_fold must be in 1..cv_folds for a cross-validation fold (cv_folds >= 2), or both 0; "
                             f"got fold {self.cv_fold} of {self.cv_folds}")
        if not 0 <= self.ensemble < 2**16 or self.ensemble == 1:
            raise ValueError(f"ensemble is a number of members >= 2, e.g. --ensemble 8, or 0 for a plain MLP; "
                             f"got {self.ensemble}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32 - 1] (numpy's and scikit-learn's range); got {self.seed}")
        if not self.momentum < 1:  # torch accepts momentum >= 1, but the step then grows without bound
            raise ValueError(f"momentum must be in [0, 1), e.g. --momentum 0.9; got {self.momentum!r}")
        if self.nesterov and not self.momentum > 0:  # torch.optim.SGD refuses it too, but only at build time
            raise ValueError(f"nesterov needs a momentum in (0, 1), e.g. --momentum 0.9 --nesterov; got "
                             f"momentum {self.momentum!r}")

    def _check_table(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' (or unset); got {self.class_weight!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), e.g. 0.1; got {self.label_smoothing!r}")
        if self.baselines not in ("auto", "none"):
            raise ValueError(f"baselines must be auto or none; got {self.baselines!r}")
        if self.data is not None and not self.target:
            raise ValueError(f"--data {self.data} needs --target COLUMN: the column to predict")

    def _check_optimizer(self) -> None:
        if len(self.betas) not in (0, 2) or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), e.g. --betas 0.9,0.95; got {list(self.betas)}")
        for key in ("eps", "alpha", "rho"):
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive finite number; got {value!r}")
        if self.rho is not None and not self.rho <= 1:
            raise ValueError(f"rho must be in (0, 1]; got {self.rho!r}")
        if not (math.isfinite(self.dampening) and 0 <= self.dampening <= 1):
            raise ValueError(f"dampening must be in [0, 1]; got {self.dampening!r}")
        if not (math.isfinite(self.checkpoint_every) and self.checkpoint_every >= 0):
            raise ValueError(f"checkpoint_every is seconds >= 0 (0: every epoch), e.g. --checkpoint-every 60; "
                             f"got {self.checkpoint_every!r}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise ValueError(f"grad_clip is a gradient norm >= 0 (0: off), e.g. --grad-clip 1; got {self.grad_clip!r}")

    def optimizer_args(self) -> dict:
        """The optimizer hyperparameters the user set away from their defaults, by torch's names."""
        args = {}
        if self.momentum:
            args["momentum"] = self.momentum
        if self.nesterov:
            args["nesterov"] = True
        if self.dampening:
            args["dampening"] = self.dampening
        if self.betas:
            args["betas"] = tuple(self.betas)
        for key in ("eps", "alpha", "rho"):
            if getattr(self, key) is not None:
                args[key] = getattr(self, key)
        if self.amsgrad:
            args["amsgrad"] = True
        return args

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
                if v is not None}

    def replace(self, **overrides) -> TrainConfig:
        unknown = sorted(set(overrides) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(unknown_keys(unknown, [f.name for f in fields(self)]))
        new = dataclasses.replace(self, **{k: _coerce(k, v) for k, v in overrides.items()})
        object.__setattr__(new, "given", self.given | frozenset(overrides))
        return new


ALIASES = {"learning_rate": "lr", "n_epochs": "epochs", "max_epochs": "epochs", "hidden_layer_sizes": "hidden",
           "hidden_sizes": "hidden", "patience": "early_stopping", "lr_schedule": "schedule", "random_state": "seed",
           "l2": "weight_decay"}  # other libraries' names for mlplab's keys


def unknown_keys(unknown: list[str], valid: list[str]) -> str:
    """``unknown config key 'hiden'; did you mean 'hidden'?`` (else the valid keys)."""
    import difflib

    close = {k: [ALIASES[k]] if k in ALIASES else difflib.get_close_matches(k, valid, n=1) for k in unknown}
    if all(close.values()):
        return "unknown config key(s) " + ", ".join(f"{k!r} (did you mean {close[k][0]!r}?)" for k in unknown)
    return f"unknown config key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(valid)}"


def _recording_given(init):
    """TrainConfig's generated ``__init__``, also recording the keys the caller named (``given``): the keys a
    preset must leave alone, even where their value is the default (``TrainConfig(optimizer="sgd")``)."""
    names = [f.name for f in fields(TrainConfig)]

    @functools.wraps(init)
    def __init__(self, *args, **keys):
        init(self, *args, **keys)
        object.__setattr__(self, "given", frozenset(names[:len(args)]) | frozenset(keys))
    return __init__


TrainConfig.__init__ = _recording_given(TrainConfig.__init__)


@functools.cache
def _hints() -> dict:
    return typing.get_type_hints(TrainConfig)


def _coerce(key: str, value):
    """Lists from TOML become tuples; a single item for a tuple field becomes a 1-tuple; ints may be floats."""
    hint = _hints()[key]
    if isinstance(value, list):
        value = tuple(value)
    if typing.get_origin(hint) is tuple and not isinstance(value, tuple):
        value = (value,)
    if hint in (float, float | None) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is float:
        value = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    return value


def _type_name(hint) -> str:
    if typing.get_origin(hint) is tuple:
        return "a list of " + {int: "integers", float: "numbers", str: "strings"}[typing.get_args(hint)[0]]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false",
            type(None): "unset"}.get(hint, str(hint))


def check_type(key: str, value, hint) -> None:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        ok = any(_matches(value, a) for a in typing.get_args(hint))
    else:
        ok = _matches(value, hint)
    if not ok:
        raise TypeError(f"config key {key!r} must be {_type_name(hint)}; got {value!r}")


def _matches(value, hint) -> bool:
    if typing.get_origin(hint) is tuple:
        inner = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_matches(v, inner) for v in value)
    if hint is type(None):
        return value is None
    if hint in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, hint)


def read_config_file(path: str | Path) -> dict:
    """The keys a TOML config file sets, checked (unknown key, wrong type: one error naming the file)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {path} is not UTF-8 text (byte {e.start}); save it as UTF-8 TOML") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} not found; check the --config path") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a folder; pass a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config file {path} is not valid TOML: {e}") from None
    try:
        TrainConfig().replace(**data)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{path}: {e}") from None
    return {k: _coerce(k, v) for k, v in data.items()}


def load_config(path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """Read a TOML file of config keys on top of ``base`` (the defaults): a run folder's whole config.toml.
    To start a run from a file, resolve it with mlplab.settings.resolve(file=path), which applies the presets
    under it."""
    return (base or TrainConfig()).replace(**read_config_file(path))


def given_keys(config: TrainConfig) -> dict:
    """The keys ``config`` was given (``TrainConfig(lr=0.1)``, ``.replace(...)``, a file), by value: what a
    TrainConfig built by hand says, under which the presets fill in the rest."""
    return {name: getattr(config, name) for name in sorted(config.given)}


def dump_config(config: TrainConfig) -> str:
    return tomli_w.dumps(config.to_dict())
