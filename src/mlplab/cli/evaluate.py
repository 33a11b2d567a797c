"""``mlplab evaluate RUN --data labelled.csv [--out DIR]``: a table run's metrics on labelled rows.

Prints the metrics (mlplab.runs.metrics, in the target's units) and, with ``--out``, writes DIR/metrics.json,
DIR/metrics.md and, for classes, DIR/confusion.png. A target label the run never saw in training is an error
naming it (exit 2). DIR is checked before anything is read (mlplab.runs.outputs): never a run folder or inside
one, never the data file; a file in it that mlplab did not write is replaced only with ``--force``. A folder
this command made and could not fill (a full disk) is removed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "evaluate"
HELP = "metrics of a run trained on a table, on a labelled table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlplab.cli.flags import _list

    p.add_argument("run_folder", metavar="RUN", help="a run folder written by mlplab train --data")
    p.add_argument("--data", required=True, metavar="FILE", help="labelled rows (with the target column)")
    p.add_argument("--out", metavar="DIR", help="write metrics.json, metrics.md (and confusion.png) here")
    p.add_argument("--na-values", dest="na_values", type=_list(str, "cell texts"), default=[], metavar="A,B",
                   help="more cell texts meaning missing")
    from mlplab.cli.predict import add_output_flags

    add_output_flags(p)


def run(args: argparse.Namespace) -> int:
    from mlplab.cli.predict import table_run
    from mlplab.data.tabular import labelled_rows, load, note
    from mlplab.runs import metrics
    from mlplab.runs.outputs import check_output_folder, mark, write_output
    from mlplab.runs.rundir import finite

    names = ("metrics.json", "metrics.md", "confusion.png")
    if args.out:
        check_output_folder(args.out, names, inputs=[args.data, args.run_folder], force=args.force)
    trained = table_run(args.run_folder)
    columns = trained.schema.columns
    table, source = load(args.data, tuple(trained.config.na_values) + tuple(args.na_values))
    labelled = labelled_rows(table, columns.target.name, source, note)
    table = table if labelled.all() else table.filter(labelled)
    y = columns.target.encode(table.column(columns.target.name), what=f"file {args.data}")
    x = columns.transform(table, log=note, source=source)
    m = metrics.table_metrics(trained.schema.task, y, metrics.scores(trained, x), trained.schema.class_names)
    title = f"{trained.schema.name} on {Path(args.data).name}"
    print(metrics.markdown(m, title), end="")
    if args.out:
        out = Path(args.out)
        made = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            text = json.dumps(finite(m), indent=2, sort_keys=True, allow_nan=False) + "\n"
            write_output(out / "metrics.json", lambda p: p.write_text(text), NAME)
            write_output(out / "metrics.md", lambda p: p.write_text(metrics.markdown(m, title)), NAME)
            if "confusion_matrix" in m:
                metrics.confusion_png(m, out / "confusion.png", title)
                mark(out / "confusion.png", NAME)
        except BaseException:
            if made:  # a folder this command made and could not fill is not left behind
                for name in names:
                    (out / name).unlink(missing_ok=True)
                out.rmdir()
            raise
        print(f"wrote {out / 'metrics.json'}")
    return 0
