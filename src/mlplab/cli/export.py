"""``mlplab export RUN_FOLDER --format onnx|torchscript --out FILE``: the run's model with its preprocessing
(input scaling, target units, probabilities) as one file that takes raw rows; FILE.json describes it.
The file is loaded back and checked against mlplab before it is kept (``mlplab.runs.export``)."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "write a run's model, preprocessing included, as ONNX or TorchScript that takes raw rows (checked on load)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlplab.runs.export import FORMATS

    p.add_argument("run_folder", metavar="RUN_FOLDER", help="a run folder written by mlplab train")
    p.add_argument("--format", required=True, choices=list(FORMATS),
                   help="onnx (opset 17, checked with onnxruntime) or torchscript (checked with torch.jit.load)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write, e.g. model.onnx; its description goes to FILE.json")


def run(args: argparse.Namespace) -> int:
    from mlplab.runs.export import FORMATS, check_rows, needs_packages, write_checked
    from mlplab.runs.run import load_run

    try:
        needs_packages(args.format)
    except ImportError as e:  # main reports ValueError in one line; a missing extra is a set-up mistake too
        raise ValueError(str(e)) from None
    run = load_run(args.run_folder)
    rows, checked_on = check_rows(run)
    diff = write_checked(run, args.format, args.out, rows, checked_on)
    print(f"exported to {args.out}; {FORMATS[args.format]} matches mlplab to {diff:.1g} on {checked_on} "
          f"(description in {args.out}.json)")
    return 0
