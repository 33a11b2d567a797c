"""The model a config describes, torch.nn or scratch: one builder for every model type and both implementations.

``MODELS`` maps each ``model`` name to how it is built; ``MODEL_DEFAULTS`` holds the training settings each
type brings (applied under whatever the user sets: ``mlplab train --model cnn`` alone trains well).
"""

from __future__ import annotations

import importlib
import math

from torch import nn

from mlplab.config import TrainConfig
from mlplab.registry import impl_module
from mlplab.training.losses import OUTPUT_ACTIVATION, loss_for_task

# The ensemble's module per impl (mlplab.registry.IMPLS has no "ensemble" entry yet)
ENSEMBLE_MODULES = {"torch": "mlplab.models.ensemble", "scratch": "mlplab.scratch.ensemble"}


def _mlp(config: TrainConfig, input_shape, output_size: int, output: str | None, numeric=None,
         task: str | None = None) -> nn.Module:
    if config.numeric_embedding and len(input_shape) != 1:
        raise ValueError(f"numeric_embedding embeds the columns of a table (inputs (N, D)); these inputs have "
                         f"shape {tuple(input_shape)}; leave numeric_embedding at 0 (drop --numeric-embedding)")
    if config.ensemble and config.bias_init != "default":
        raise ValueError("bias_init applies to the plain MLP; an ensemble's layers keep their own init; "
                         "drop bias_init or ensemble")
    if config.ensemble:  # TabM-mini: k members share this MLP; the task says how their predictions average
        ensemble = importlib.import_module(ENSEMBLE_MODULES[config.impl]).EnsembleMLP
        return ensemble(math.prod(input_shape), list(config.hidden), output_size, k=config.ensemble, task=task,
                        activation=list(config.activation), dropout=list(config.dropout), init=list(config.init),
                        bias=config.bias, seed=config.seed, numeric_embedding=config.numeric_embedding,
                        numeric=numeric, numeric_embedding_sigma=config.numeric_embedding_sigma)
    mlp = impl_module(config.impl, "mlp").MLP
    return mlp(math.prod(input_shape), list(config.hidden), output_size, activation=list(config.activation),
               dropout=list(config.dropout), init=list(config.init), bias=config.bias, output=output,
               seed=config.seed, numeric_embedding=config.numeric_embedding, numeric=numeric,
               bias_init=config.bias_init, numeric_embedding_sigma=config.numeric_embedding_sigma)


def _cnn(config: TrainConfig, input_shape, output_size: int, output: str | None, numeric=None) -> nn.Module:
    if len(input_shape) not in (2, 3):
        raise ValueError(f"model {config.model!r} takes images (H, W) or (C, H, W); these inputs have shape "
                         f"{tuple(input_shape)}; use --model mlp")
    return impl_module(config.impl, "cnn").CNN(tuple(input_shape), output_size, spec=config.spec or config.model,
                                               init=config.init[0], seed=config.seed)


def _rnn(config: TrainConfig, input_shape, output_size: int, output: str | None, numeric=None) -> nn.Module:
    if len(input_shape) != 2:
        raise ValueError(f"model {config.model!r} reads sequences (T, D) (an image is read row by row); these "
                         f"inputs have shape {tuple(input_shape)}")
    if len(set(config.hidden)) != 1:
        raise ValueError(f"model {config.model!r} takes one state size per layer, all equal (e.g. --hidden "
                         f"128,128 for two layers); got {list(config.hidden)}")
    return impl_module(config.impl, "rnn").RNNClassifier(input_shape[-1], config.hidden[0], output_size,
                                                         cell=config.model, num_layers=len(config.hidden),
                                                         seed=config.seed)


def _module(config: TrainConfig, input_shape, output_size: int, output: str | None, numeric=None) -> nn.Module:
    """Your own nn.Module, rebuilt from its import path (``config.module``) with no arguments."""
    cls = import_class(config.module)
    try:
        return cls()
    except TypeError as e:
        name = config.module.rpartition(":")[2]
        raise ValueError(f"cannot rebuild your model {name}() from {config.module}: {e}; pass it built, e.g. "
                         f"load_run(folder, model={name}(...))") from None


MODELS = {"mlp": _mlp, "cnn": _cnn, "lenet": _cnn, "rnn": _rnn, "lstm": _rnn, "module": _module}

# Training settings that suit each model type; flags and config files override them.
MODEL_DEFAULTS = {
    "mlp": {},
    "module": {},  # your own nn.Module: TrainConfig's defaults, as a tutorial's loop starts from
    # Fashion-MNIST, 2 CPU cores: 0.913 test accuracy in 105 s, channels-last (constant lr 1e-3: 0.899 in 134 s)
    "cnn": dict(optimizer="adam", lr=3e-3, schedule="onecycle", batch_size=128, epochs=3),
    # d2l §6.6, its init_cnn included: with torch's default init the sigmoid net sits at chance for 7 epochs
    # (0.673 after 10; Xavier: 0.80, as d2l reports)
    "lenet": dict(optimizer="sgd", lr=0.9, batch_size=256, epochs=10, init=("xavier_uniform",)),
    "rnn": dict(optimizer="adam", lr=1e-3, batch_size=128, epochs=5, hidden=(128,)),
    # Fashion-MNIST rows: 0.895 in 118 s (constant lr 2e-3, 5 epochs: 0.868 in 61 s)
    "lstm": dict(optimizer="adam", lr=3e-3, schedule="onecycle", batch_size=128, epochs=10, hidden=(128,)),
}


def with_model_defaults(config: TrainConfig, keys: dict) -> TrainConfig:
    """``config`` with ``keys`` applied over the defaults of the model type they (or it) name."""
    model = keys.get("model", config.model)
    defaults = {k: v for k, v in MODEL_DEFAULTS.get(model, {}).items()}
    return config.replace(**{**defaults, **keys})


def build_model(config: TrainConfig, input_shape: tuple[int, ...], task: str, output_size: int, *,
                numeric: list[int] | None = None) -> nn.Module:
    """The model ``config`` describes (``config.impl``'s modules) with the output layer its loss expects.

    ``numeric``: the input columns ``config.numeric_embedding`` embeds (``mlplab.models.embeddings
    .numeric_positions(data)``: a table's numeric value slots); None: every input.

    >>> from mlplab.config import TrainConfig
    >>> build_model(TrainConfig(hidden=(8,)), (4,), "multiclass", 3)[1]
    Linear(in_features=4, out_features=8, bias=True)
    """
    loss = loss_for_task(config.loss, task)
    output = OUTPUT_ACTIVATION.get(loss)
    if output is not None and config.model != "mlp":
        raise ValueError(f"loss {loss!r} needs a {output} output layer, which only model 'mlp' appends; use "
                         "cross_entropy (or bce_with_logits) with model " + repr(config.model))
    if config.numeric_embedding and config.model != "mlp":
        raise ValueError(f"numeric_embedding puts an embedding before an MLP's first layer; model "
                         f"{config.model!r} has none; use --model mlp or leave numeric_embedding at 0")
    if config.ensemble and config.model != "mlp":
        raise ValueError(f"ensemble trains k members sharing one MLP (TabM-mini); model {config.model!r} is not an "
                         f"MLP; use --model mlp or leave ensemble at 0")
    if config.ensemble and output is not None:
        raise ValueError(f"ensemble averages its members' probabilities itself, from raw outputs; loss {loss!r} "
                         f"needs a {output} output layer; use "
                         f"{'cross_entropy' if loss == 'nll' else 'bce_with_logits'} or leave ensemble at 0")
    if config.ensemble:
        return _mlp(config, input_shape, output_size, output, numeric, task=task)
    return MODELS[config.model](config, input_shape, output_size, output, numeric)


def module_path(model: nn.Module) -> str:
    """Where your model's class lives, ``package.module:Class``, so a run folder can rebuild it."""
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str | None) -> type:
    """The class at ``package.module:Class``; one clear ValueError when it cannot be imported."""
    import importlib

    module, _, name = (path or "").partition(":")
    if "<locals>" in name:
        raise ValueError(f"your model class {name} was defined inside a function, so it cannot be imported again; "
                         f"define it at the top level of a module, or pass it built: load_run(folder, model=...)")
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        where = "the notebook or script" if module == "__main__" else f"module {module}"
        raise ValueError(f"cannot import your model class {name} from {where} ({path}); define or import "
                         f"{name} before loading the run (in {where}), or pass it built: "
                         f"load_run(folder, model={name}())") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ValueError(f"{path} is not an nn.Module class; the run folder's config.toml names the wrong thing")
    return obj


def init_module(model: nn.Module, config: TrainConfig) -> nn.Module:
    """Your own model's affine layers re-initialised as ``config.init``/``bias_init`` say, when they say so
    (as a tutorial's ``net.apply(init_weights)``); left as built otherwise."""
    if config.init == ("default",) and config.bias_init == "default":
        return model
    if len(config.init) != 1:
        raise ValueError(f"your own model takes one init scheme for all its nn.Linear layers; got {list(config.init)}")
    from mlplab.models.init import init_model

    return init_model(model, config.init[0], config.bias_init, seed=config.seed)


def check_module_output(model: nn.Module, data, config: TrainConfig):
    """``data`` as your model's output fits it (a binary task read as two classes when the model gives two
    scores), checked on a few training rows against the task and the loss; else one line saying what fits."""
    import torch

    from mlplab.training.device import check_device, model_dtype

    x = data.encoded("train")[:8]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(check_device(config.device), model_dtype(model)))
    except Exception as e:  # noqa: BLE001  (any failure of the user's forward is reported, not raised raw)
        raise ValueError(f"your model's forward failed on a batch of shape {tuple(x.shape)}: "
                         f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        model.train(was_training)
    if data.task == "binary" and isinstance(out, torch.Tensor) and out.shape == (len(x), 2):
        data = two_classes(data)  # two scores, one per class: cross entropy over both, as a tutorial trains it
    if not isinstance(out, torch.Tensor) or out.shape != (len(x), data.output_size):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"your model must output one row of {data.output_size} per sample for this {data.task} task "
                         f"({'one score per class' if data.task == 'multiclass' else 'one value'}); got {shape} "
                         f"for {len(x)} samples")
    loss = loss_for_task(config.loss, data.task)
    rows_sum_to_one = bool(((out >= 0) & (out <= 1)).all()) and torch.allclose(
        out.sum(dim=1), torch.ones(len(out), dtype=out.dtype, device=out.device), atol=1e-4)
    if loss == "cross_entropy" and data.output_size > 1 and rows_sum_to_one:
        raise ValueError("your model already outputs probabilities (each row sums to 1: a softmax head), and "
                         "cross_entropy applies softmax itself, so it would apply it twice; return the scores "
                         "before the softmax (logits) with cross_entropy, or end with log_softmax and pass loss='nll'")
    return data


def two_classes(data):
    """A binary Dataset as two classes (multiclass, labels 0/1), for a model that outputs one score per class."""
    import dataclasses

    labels = {f"y_{s}": getattr(data, f"y_{s}").reshape(-1).long() for s in ("train", "val", "test")
              if getattr(data, f"y_{s}") is not None}
    return dataclasses.replace(data, task="multiclass", num_classes=2, **labels)
