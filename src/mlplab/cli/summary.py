"""``mlplab summary [RUN_FOLDER]``: layers, output shapes and parameter counts of the model the flags describe,
or of a saved run (its config.toml and model.safetensors)."""

from __future__ import annotations

import argparse

from mlplab.cli.flags import add_model_flags, settings_from_args
from mlplab.config import TrainConfig

NAME = "summary"
HELP = "print the model's layers, output shapes and parameter counts (same model flags as train, or a run folder)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_folder", nargs="?", metavar="RUN_FOLDER",
                   help="a run folder written by train: summarise its saved model instead of the flags' one")
    add_model_flags(p)
    p.add_argument("--params", action="store_true", help="also list named parameters and state_dict keys")


def run(args: argparse.Namespace) -> int:
    from mlplab.data.load import describe  # torch loads here, not for --help
    from mlplab.models.build import build_model
    from mlplab.models.summary import parameter_table, render, summarize
    from mlplab.runs.run import load_run

    if args.run_folder is not None:
        given = sorted(k for k in vars(args) if k in TrainConfig.__dataclass_fields__)
        given += ["config"] if args.config else []
        if given:  # the saved model is what it is: a model flag would be silently ignored
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"summary RUN_FOLDER describes the saved model; drop {flags}")
        run = load_run(args.run_folder)
        config, input_shape, model = run.config, run.schema.input_shape, run.model
        print(f"run {args.run_folder} ({config.impl}, weights from model.safetensors)")
    else:
        config = settings_from_args(args).config
        input_shape, task, output_size = describe(config.dataset)
        model = build_model(config, input_shape, task, output_size)
    print(render(summarize(model, input_shape), model))
    if args.params:
        print(parameter_table(model))
    return 0
