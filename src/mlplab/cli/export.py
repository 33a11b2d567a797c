"""``mlplab export RUN_FOLDER --format onnx|torchscript --out FILE [--data FILE]``: the run's model with its
preprocessing (input scaling or a table's column encoding, target units, probabilities) as one file that takes
raw rows; FILE.json describes it. The file is loaded back and checked against mlplab before it is kept
(``mlplab.runs.export``; arrays: ``mlplab.runs.export_array``; tables: ``mlplab.runs.export_table``).
FILE and FILE.json are checked before anything is read (mlplab.runs.outputs): never the --data file or the
run's own, never in a run folder, never a device; a file mlplab did not write is replaced only with --force."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "write a run's model, preprocessing included, as ONNX or TorchScript that takes raw rows (checked on load)"
EPILOG = """A run trained on a table (mlplab train --data FILE --target COLUMN) exports as a graph with two inputs:
`numeric` (float32, NaN = missing) and `categorical` (int64: each cell's position in its column's categories,
-1 = other/missing); FILE.json lists the columns of each, in order, with the categories. The check runs on the
run's test rows (its --data file split again with the run's seed); when that file is gone, or the run was
trained from a DataFrame, pass --data with rows to check on."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlplab.cli.flags import _list

    p.epilog = EPILOG
    p.add_argument("run_folder", metavar="RUN_FOLDER", help="a run folder written by mlplab train")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript"],  # mlplab.runs.export.FORMATS
                   help="onnx (opset 17, checked with onnxruntime) or torchscript (checked with torch.jit.load)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write, e.g. model.onnx; its description goes to FILE.json")
    p.add_argument("--data", metavar="FILE", default=None,
                   help="table runs: rows to check the export on (.csv, .tsv, .parquet, ...; the target column "
                        "may be there or not), instead of the run's test rows")
    p.add_argument("--na-values", dest="na_values", type=_list(str, "cell texts"), default=[], metavar="A,B",
                   help="--data: more cell texts meaning missing (besides those the run was trained with)")
    from mlplab.cli.predict import add_output_flags

    add_output_flags(p)


def run(args: argparse.Namespace) -> int:
    from mlplab.runs.export import FORMATS, needs_packages, write_checked
    from mlplab.runs.export_array import check_rows
    from mlplab.runs.export_table import check_table
    from mlplab.runs.run import load_run

    try:
        needs_packages(args.format)
    except ImportError as e:  # main reports ValueError in one line; a missing extra is a set-up mistake too
        raise ValueError(str(e)) from None
    from mlplab.runs.outputs import check_output

    inputs = [args.data, args.run_folder]
    check_output(args.out, inputs=inputs, force=args.force)
    check_output(f"{args.out}.json", inputs=inputs, force=args.force)
    run = load_run(args.run_folder)
    if args.data is None:  # the check reads the run's own table: an input too
        inputs += [run.config.data, run.config.test]
        check_output(args.out, inputs=inputs, force=args.force)
        check_output(f"{args.out}.json", inputs=inputs, force=args.force)
    if run.schema.columns is not None:
        rows, checked_on = check_table(run, args.data, args.na_values)
    elif args.data is not None or args.na_values:
        raise ValueError(f"--data and --na-values are for runs trained on a table; {args.run_folder} was not (it "
                         "is checked on its own test rows): leave them out")
    else:
        rows, checked_on = check_rows(run)
    diff = write_checked(run, args.format, args.out, rows, checked_on)
    print(f"exported to {args.out}; {FORMATS[args.format]} matches mlplab to {diff:.1g} on {checked_on} "
          f"(description in {args.out}.json)")
    return 0
