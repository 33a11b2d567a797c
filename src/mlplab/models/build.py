"""The model a config describes, torch.nn or scratch: one builder for every model type and both implementations.

``MODELS`` maps each ``model`` name to how it is built; ``MODEL_DEFAULTS`` holds the training settings each
type brings (applied under whatever the user sets: ``mlplab train --model cnn`` alone trains well).
"""

from __future__ import annotations

import math

from torch import nn

from mlplab.config import TrainConfig
from mlplab.registry import impl_module
from mlplab.training.losses import OUTPUT_ACTIVATION, loss_for_task


def _mlp(config: TrainConfig, input_shape, output_size: int, output: str | None, numeric=None) -> nn.Module:
    if config.numeric_embedding and len(input_shape) != 1:
        raise ValueError(f"numeric_embedding embeds the columns of a table (inputs (N, D)); these inputs have "
                         f"shape {tuple(input_shape)}; leave numeric_embedding at 0 (drop --numeric-embedding)")
    mlp = impl_module(config.impl, "mlp").MLP
    return mlp(math.prod(input_shape), list(config.hidden), output_size, activation=list(config.activation),
               dropout=list(config.dropout), init=list(config.init), bias=config.bias, output=output,
               seed=config.seed, numeric_embedding=config.numeric_embedding, numeric=numeric)


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


MODELS = {"mlp": _mlp, "cnn": _cnn, "lenet": _cnn, "rnn": _rnn, "lstm": _rnn}

# Training settings that suit each model type; flags and config files override them.
MODEL_DEFAULTS = {
    "mlp": {},
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
    return MODELS[config.model](config, input_shape, output_size, output, numeric)
