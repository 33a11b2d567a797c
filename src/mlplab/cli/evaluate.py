"""``mlplab evaluate RUN --data labelled.csv [--out DIR]``: a table run's metrics on labelled rows.

Prints the metrics (mlplab.runs.metrics, in the target's units) and, with ``--out``, writes DIR/metrics.json,
DIR/metrics.md and, for classes, DIR/confusion.png. A target label the run never saw in training is an error
naming it (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "evaluate"
HELP = "metrics of a run trained on a table, on a labelled table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlplab.cli.flags import _list

    p.add_argument("run_folder", metavar="RUN", help="a run folder written by mlplab train --data")
    p.add_argument("--data", required=True, metavar="FILE", help="labelled rows (with the target column)")
    p.add_argument("--out", metavar="DIR", help="write metrics.json, metrics.md (and confusion.png) here")
    p.add_argument("--na-values", dest="na_values", type=_list(str, "column names"), default=[], metavar="A,B",
                   help="more cell texts meaning missing")


def run(args: argparse.Namespace) -> int:
    from mlplab.cli.predict import table_run
    from mlplab.data.tabular import labelled_rows, load, note
    from mlplab.runs import metrics
    from mlplab.runs.rundir import write_json, write_text

    trained = table_run(args.run_folder)
    columns = trained.schema.columns
    table, source = load(args.data, tuple(trained.config.na_values) + tuple(args.na_values))
    labelled = labelled_rows(table, columns.target.name, source, note)
    table = table if labelled.all() else table.filter(labelled)
    y = columns.target.encode(table.column(columns.target.name), what=f"file {args.data}")
    x = columns.transform(table, log=note)
    m = metrics.table_metrics(trained.schema.task, y, metrics.scores(trained, x), trained.schema.class_names)
    title = f"{trained.schema.name} on {Path(args.data).name}"
    print(metrics.markdown(m, title), end="")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", m)
        write_text(out / "metrics.md", metrics.markdown(m, title))
        if "confusion_matrix" in m:
            metrics.confusion_png(m, out / "confusion.png", title)
        print(f"wrote {out / 'metrics.json'}")
    return 0
