"""A table run as an exported graph: the column preprocessing (mlplab.data.columns) as torch ops, then the model.

The graph takes the table's cells as two arrays, in the column order FILE.json lists:

* ``numeric`` float32 (batch, numeric columns): the raw numbers, NaN where a cell is missing;
* ``categorical`` int64 (batch, categorical columns): per cell the position of its text in that column's
  ``categories`` (FILE.json), and any other value (rare or unseen in training, missing) as len(categories)
  or −1: both mean the "other" slot. The text is the cell as mlplab reads it: booleans ``true``/``false``,
  whole numbers without ".0" (1.0 → ``1``).

A table without numeric (or without categorical) feature columns has no such input. Inside, what
``mlplab.data.cells.encode_cells`` does, as ops that export to ONNX opset 17 and TorchScript::

    missing = isnan(x);  z = (where(missing, fill, x) − center) · factor
    robust scaling: z ← z / √(1 + (z/3)²)  (smooth clipping; not affine, so it is not folded into a layer)
    indicator = float(missing) for the columns that had missing cells in training
    one-hot: code → clamp to [0, len(categories)] (out of range → other), compared with an arange
    the blocks permuted back into the Columns order, then the model's layers and head (mlplab.runs.export_array).

``graph_inputs(columns, table)`` builds the two arrays from a table with mlplab; without mlplab, with pandas
(tests/test_export.py runs this recipe on titanic)::

    meta = json.load(open("model.onnx.json")); rows = pd.read_csv("new.csv")

    def text(v):  # a cell as mlplab spells it
        if isinstance(v, bool):
            return str(v).lower()                   # true, false
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)   # 1.0 → "1"

    feeds = {}
    for spec in meta["inputs"]:
        if spec["name"] == "numeric":
            feeds["numeric"] = rows[spec["columns"]].to_numpy("float32")      # NaN: missing
        else:
            feeds["categorical"] = np.stack([[c["categories"].index(text(v)) if not pd.isna(v) and text(v) in
                                              c["categories"] else -1 for v in rows[c["name"]]]
                                             for c in spec["columns"]], 1)
    proba = onnxruntime.InferenceSession("model.onnx").run(None, feeds)[0]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.data.cells import cells, encode_cells
from mlplab.runs import export_array

NUMERIC, CATEGORICAL = "numeric", "categorical"


class ColumnsGraph(nn.Module):
    """``encode_cells`` in torch: (numeric (B, n) float32, categorical (B, m) int64) → (B, width) float32,
    each input present only when the table has columns of that kind."""

    def __init__(self, columns):
        super().__init__()
        numeric = [c for c in columns.columns if c.kind == "numeric"]
        categorical = [c for c in columns.columns if c.kind == "categorical"]
        self.n_numeric, self.n_categorical = len(numeric), len(categorical)
        self.robust = columns.scaling == "robust"
        flagged = [k for k, c in enumerate(numeric) if c.indicator]
        self.n_flagged = len(flagged)
        sizes = [len(c.categories) + 1 for c in categorical]               # one slot each, then "other"
        offsets = np.cumsum([0, *sizes])[:-1]
        for name, value in (("fill", columns.fill), ("center", columns.center), ("factor", columns.factor)):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32).reshape(-1))
        self.register_buffer("flagged", torch.tensor(flagged, dtype=torch.int64))
        self.register_buffer("other", torch.tensor([s - 1 for s in sizes], dtype=torch.int64))
        self.register_buffer("offset", torch.tensor(offsets, dtype=torch.int64))
        self.register_buffer("slots", torch.arange(sum(sizes), dtype=torch.int64))
        # the blocks come out as [z (n) | indicators | one-hot slots]; order[j] = which of them is output j
        order, k, m = [], 0, 0
        for c in columns.columns:
            if c.kind == "numeric":
                order.append(k)
                if c.indicator:
                    order.append(self.n_numeric + flagged.index(k))
                k += 1
            else:
                start = self.n_numeric + len(flagged) + int(offsets[m])
                order.extend(range(start, start + sizes[m]))
                m += 1
        self.register_buffer("order", torch.tensor(order, dtype=torch.int64))

    def forward(self, *inputs: Tensor) -> Tensor:
        parts = []
        if self.n_numeric:
            x = inputs[0]                                                   # (B, n), NaN = missing
            missing = torch.isnan(x)                                        # (B, n)
            z = (torch.where(missing, self.fill, x) - self.center) * self.factor
            if self.robust:
                z = z / torch.sqrt(1 + (z / 3) ** 2)                        # smooth clipping to (−3, 3)
            parts.append(z)
            if self.n_flagged:
                parts.append(missing.index_select(1, self.flagged).to(z.dtype))   # (B, indicators)
        if self.n_categorical:
            code = inputs[-1]                                               # (B, m) int64
            code = torch.where((code >= 0) & (code < self.other), code, self.other) + self.offset
            parts.append((code.unsqueeze(2) == self.slots).to(torch.float32).sum(1))   # (B, slots)
        return torch.cat(parts, 1).index_select(1, self.order)              # (B, width), Columns order


class TableModel(nn.Module):
    """The cells in, what ``Run.predict`` sees before argmax out: ``ColumnsGraph`` then the model."""

    def __init__(self, columns, model: nn.Module):
        super().__init__()
        self.columns, self.model = ColumnsGraph(columns), model

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.model(self.columns(*inputs))


def input_names(columns) -> list[str]:
    kinds = {c.kind for c in columns.columns}
    return [name for name in (NUMERIC, CATEGORICAL) if name in kinds]


def graph_inputs(columns, table, log=None) -> dict[str, np.ndarray]:
    """The exported graph's inputs for the rows of ``table`` (a pyarrow Table): {name: array}, as the module
    docstring says; numbers rounded to float32, the graph's input dtype. See mlplab.data.cells.cells."""
    numeric, codes = cells(columns, table, log or (lambda m: None))
    arrays = {NUMERIC: np.ascontiguousarray(numeric, dtype=np.float32), CATEGORICAL: np.ascontiguousarray(codes)}
    return {name: arrays[name] for name in input_names(columns)}


def examples(columns) -> tuple[Tensor, ...]:
    """Two rows of zeros per input: what tracing runs the graph on (the ops do not depend on the values)."""
    sizes = {NUMERIC: (sum(c.kind == "numeric" for c in columns.columns), torch.float32),
             CATEGORICAL: (sum(c.kind == "categorical" for c in columns.columns), torch.int64)}
    return tuple(torch.zeros(2, sizes[n][0], dtype=sizes[n][1]) for n in input_names(columns))


def expected(run, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """What mlplab predicts for the cells ``inputs`` (the same float32 numbers the graph takes)."""
    rows = len(next(iter(inputs.values())))
    numeric = inputs.get(NUMERIC, np.zeros((rows, 0))).astype(np.float64)
    x = encode_cells(run.schema.columns, numeric, inputs.get(CATEGORICAL, np.zeros((rows, 0), np.int64)))
    return export_array.expected(run, x)


def table_graph(run, table) -> tuple[nn.Module, tuple[Tensor, ...], dict[str, np.ndarray], np.ndarray]:
    """``mlplab.runs.export.graph`` for a table run and rows ``table`` (a pyarrow Table)."""
    columns, feeds = run.schema.columns, graph_inputs(run.schema.columns, table)
    model = TableModel(columns, export_array.exportable_model(run)).eval()
    return model, examples(columns), feeds, expected(run, feeds)


def check_table(run, data=None, na_values=()) -> tuple:
    """The rows (a pyarrow Table) to check a table run's export on, and what they are: ``data`` (a file, a
    pyarrow Table or a DataFrame; ``na_values`` as missing besides the run's own) when given, else the run's
    test rows (a fresh run's, or the split of its ``--data`` file made again with its seed)."""
    from mlplab.data.tabular import load
    from mlplab.runs.train import load_data

    if data is not None:
        table, source = load(data, tuple(run.config.na_values) + tuple(na_values))
        run.schema.columns.check_names(table.column_names, lambda m: None, source)  # the file named if one is missing
        what = f"rows of {source or 'the table given'}"
    elif run.data is not None and run.data.test_table is not None:
        table, what = run.data.test_table, "test rows"
    elif run.config.data is not None:
        try:
            table = load_data(None, run.config, log=lambda m: None)[0].test_table
        except FileNotFoundError:
            raise ValueError(f"the run's training file {run.config.data} is not there to take its test rows from; pass "
                             "rows to check the export on: mlplab export --data FILE (export(..., x=table))") from None
        what = f"test rows of {run.config.data}"
    else:
        table = None
    if table is None or table.num_rows == 0:
        raise ValueError("this table run holds no test rows to check the export on; pass rows with the run's "
                         "columns: mlplab export --data FILE (export(..., x=table))")
    table = table.slice(0, export_array.MAX_CHECK_ROWS)
    return table, f"{table.num_rows} {what}"


def sidecar_inputs(columns) -> dict:
    """FILE.json's ``inputs`` (how to build each input from a table's cells) and ``columns`` (Columns' report)."""
    meta = {NUMERIC: {"name": NUMERIC, "dtype": "float32", "shape": ["batch", 0], "columns": [],
                      "missing": "NaN", "meaning": "the raw numbers, one column each in this order; NaN where a "
                      "cell is missing (imputation, scaling and missing indicators are inside the graph); +-inf is "
                      "not a value the model takes (Run.predict refuses it; the graph would give NaN or inf)"},
            CATEGORICAL: {"name": CATEGORICAL, "dtype": "int64", "shape": ["batch", 0], "columns": [],
                          "missing": "-1 (or len(categories))",
                          "meaning": "one column each in this order: the position of the cell's text in the "
                          "column's categories (booleans true/false, whole numbers without '.0'); a value "
                          "not listed (rare or unseen in training) or a missing cell: -1 or len(categories), "
                          "both the 'other' slot"}}
    for c in columns.columns:
        if c.kind == "numeric":
            meta[NUMERIC]["columns"].append(c.name)
        else:
            meta[CATEGORICAL]["columns"].append({"name": c.name, "categories": list(c.categories),
                                                 "other": len(c.categories)})
    for m in meta.values():
        m["shape"][1] = len(m["columns"])
    return {"inputs": [meta[name] for name in input_names(columns)], "columns": list(columns.report)}
