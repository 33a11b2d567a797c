"""``mlplab summary``: layers, output shapes and parameter counts of the model the flags describe."""

from __future__ import annotations

import argparse

from ..data import describe
from ..run import build_model
from ..summary import parameter_table, render, summarize
from .flags import add_model_flags, config_from_args

NAME = "summary"
HELP = "print the model's layers, output shapes and parameter counts (same model flags as train)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    p.add_argument("--params", action="store_true", help="also list named parameters and state_dict keys")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    input_shape, task, output_size = describe(config.dataset)
    model = build_model(config, input_shape, task, output_size)
    print(render(summarize(model, input_shape), model))
    if args.params:
        print(parameter_table(model))
    return 0
