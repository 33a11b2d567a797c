"""``mlplab predict RUN --data new.csv --out predictions.csv``: a table run's predictions for new rows.

The output CSV holds the ``--keep`` columns, ``prediction`` (a class name, or a value in the target's units)
and with ``--proba`` one ``proba_<class>`` column per class. ``--out`` is checked before anything is read
(mlplab.runs.outputs: never an input, a run folder's file, a device; a file mlplab did not write only with
``--force``), and text cells that a spreadsheet would run as formulas get a leading ``'`` unless ``--raw-csv``
(mlplab.runs.safe_csv). The run's column preprocessor encodes the rows
exactly as in training; columns it never saw are ignored (one notice), missing ones are an error.
"""

from __future__ import annotations

import argparse

NAME = "predict"
HELP = "predict a table's rows with a run trained on a table; write a CSV"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlplab.cli.flags import _list

    p.add_argument("run_folder", metavar="RUN", help="a run folder written by mlplab train --data")
    p.add_argument("--data", required=True, metavar="FILE", help="the rows to predict (.csv, .tsv, .parquet, ...)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="where to write the predictions")
    p.add_argument("--proba", action="store_true", help="also write one probability column per class")
    p.add_argument("--keep", type=_list(str, "column names"), default=[], metavar="A,B",
                   help="input columns copied to the output (an id, say)")
    p.add_argument("--na-values", dest="na_values", type=_list(str, "cell texts"), default=[], metavar="A,B",
                   help="more cell texts meaning missing (besides those the run was trained with)")
    add_output_flags(p, csv=True)


def add_output_flags(p: argparse.ArgumentParser, csv: bool = False) -> None:
    """--force (replace a file mlplab did not write) and, for CSV output, --raw-csv."""
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file even when mlplab did not write it (never an input of this "
                        "command, a run folder's file, a device or a folder)")
    if csv:
        p.add_argument("--raw-csv", dest="raw_csv", action="store_true",
                       help="write text cells verbatim; by default a cell starting with = + - @ (or a tab or CR) "
                            "gets a leading ' so a spreadsheet shows it as text instead of running it as a formula")


def table_run(folder: str):
    """The run in ``folder``; it must have been trained on a table."""
    from mlplab.runs.run import load_run

    run = load_run(folder)
    if run.schema.columns is None:
        raise ValueError(f"{folder} was not trained on a table (mlplab train --data FILE --target COLUMN); "
                         "predict and evaluate take table runs")
    return run


def run(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from mlplab.data.tabular import load, note
    from mlplab.runs.outputs import check_output, write_output
    from mlplab.runs.safe_csv import write_csv

    check_output(args.out, inputs=[args.data, args.run_folder], force=args.force)
    trained = table_run(args.run_folder)
    table, _ = load(args.data, tuple(trained.config.na_values) + tuple(args.na_values))
    absent = [c for c in args.keep if c not in table.column_names]
    if absent:
        raise ValueError(f"--keep names column(s) {absent} that {args.data} does not have; its columns: "
                         f"{', '.join(table.column_names)}")
    x = trained.schema.columns.transform(table, log=note, source=args.data)
    out = {c: table.column(c) for c in args.keep}
    if trained.schema.task == "regression":
        out["prediction"] = pa.array(trained.predict(x))
    else:
        import numpy as np

        proba = trained.predict_proba(x)
        names = np.asarray(trained.schema.class_names, dtype=object)
        out["prediction"] = pa.array(names[proba.argmax(axis=1)].tolist(), pa.string())
        if args.proba:
            out.update({f"proba_{n}": pa.array(proba[:, i]) for i, n in enumerate(names)})
    write_output(args.out, lambda p: write_csv(pa.table(out), p, raw=args.raw_csv), NAME)
    print(f"wrote {len(x)} predictions to {args.out}")
    return 0
