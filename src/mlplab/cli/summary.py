"""``mlplab summary [RUN_FOLDER]``: layers, output shapes and parameter counts of the model the flags describe,
or of a saved run (its config.toml and model.safetensors)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlplab.config import load_config
from mlplab.data.load import describe
from mlplab.runs.rundir import load_weights
from mlplab.runs.run import build_model
from mlplab.models.summary import parameter_table, render, summarize
from mlplab.cli.flags import add_model_flags, config_from_args

NAME = "summary"
HELP = "print the model's layers, output shapes and parameter counts (same model flags as train, or a run folder)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_folder", nargs="?", metavar="RUN_FOLDER",
                   help="a run folder written by train: summarise its saved model instead of the flags' one")
    add_model_flags(p)
    p.add_argument("--params", action="store_true", help="also list named parameters and state_dict keys")


def load_run_model(folder: str | Path):
    """The model a run folder describes (config.toml), with its trained weights (model.safetensors)."""
    folder = Path(folder)
    if not (folder / "config.toml").is_file():
        raise FileNotFoundError(f"{folder} is not a run folder (no config.toml); pass a folder written by "
                                "mlplab train")
    config = load_config(folder / "config.toml")
    input_shape, task, output_size = describe(config.dataset)
    model = build_model(config, input_shape, task, output_size)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors; the run did not finish")
    try:
        load_weights(model, weights)
    except RuntimeError as e:
        raise ValueError(f"{weights} does not fit the model in {folder / 'config.toml'}: "
                         f"{str(e).splitlines()[0]}") from None
    return config, input_shape, model


def run(args: argparse.Namespace) -> int:
    if args.run_folder is not None:
        config, input_shape, model = load_run_model(args.run_folder)
        print(f"run {args.run_folder} ({config.impl}, weights from model.safetensors)")
    else:
        config = config_from_args(args)
        input_shape, task, output_size = describe(config.dataset)
        model = build_model(config, input_shape, task, output_size)
    print(render(summarize(model, input_shape), model))
    if args.params:
        print(parameter_table(model))
    return 0
