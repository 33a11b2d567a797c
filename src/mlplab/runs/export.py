"""``export(run, format, path)``: a run's model as one ONNX or TorchScript file that takes RAW rows.

The graph holds everything ``Run.predict`` does with numbers, so a consumer needs no mlplab: the input and
target scalings folded into the model's Linear layers, the probabilities computed inside (mlplab.runs.export_array);
a run trained on a table takes its cells, ``numeric`` and ``categorical``, and encodes its columns inside
(mlplab.runs.export_table). Output ``probabilities`` (batch, classes), columns in class order, whose argmax is
``Run.predict``'s class index; or ``values`` (batch, targets) in the target's own units. ``FILE.json`` beside
the file says so, with the inputs, the class names, the task and the mlplab version.

After writing, the file is loaded back (onnxruntime / ``torch.jit.load``) and compared with ``run.predict_proba``
(``run.predict`` for regression) on the run's test rows (else rows drawn from the training mean and scale; a
table run: else the rows given); a difference above 1e-5 (atol and rtol; a regression's atol is 1e-5 of the
target's standard deviation, in its units: mlplab's own float32 model carries ~1e-7 of it, so 1e-5 in target
units would fail targets spread over hundreds) is a ValueError and leaves no file.

>>> diff = export(run, "onnx", "model.onnx")                      # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.registry import lookup
from mlplab.runs import export_array, export_table
from mlplab.runs.outputs import check_output, write_output
from mlplab.runs.rundir import finite
from mlplab.training.losses import loss_for_task

FORMATS = {"onnx": "onnxruntime", "torchscript": "torch.jit.load"}  # format -> what the check loads it with
OPSET = 17
TOLERANCE = 1e-5   # atol and rtol, as torch.testing.assert_close takes them


def absolute_tolerance(schema) -> np.ndarray | float:
    """The check's atol: TOLERANCE, times the target's standard deviation (per target) for a regression."""
    if schema.task == "regression" and schema.target_stats is not None:
        return TOLERANCE * schema.target_stats[1].double().cpu().numpy().reshape(-1)
    return TOLERANCE


def output_name(task: str) -> str:
    return "values" if task == "regression" else "probabilities"


def write_onnx(model: nn.Module, examples: tuple[Tensor, ...], path: Path, names: list[str], output: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        buffer = io.BytesIO()  # in memory first: a full disk is then Python's OSError, never a C++ abort
        torch.onnx.export(model, examples, buffer, dynamo=False, opset_version=OPSET,
                          input_names=names, output_names=[output],
                          dynamic_axes={name: {0: "batch"} for name in (*names, output)})
    path.write_bytes(buffer.getvalue())


def run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def write_torchscript(model: nn.Module, examples: tuple[Tensor, ...], path: Path, names: list[str],
                      output: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated.*")
        buffer = io.BytesIO()  # in memory first: torch's C++ writer aborts the process on a full disk
        torch.jit.save(torch.jit.trace(model, examples), buffer)
    path.write_bytes(buffer.getvalue())


def run_torchscript(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated.*")
        return torch.jit.load(str(path), map_location="cpu")(*map(torch.from_numpy, feeds.values())).numpy()


def needs_packages(format: str) -> None:
    """ONNX export needs onnx (torch's exporter) and onnxruntime (the check): one clear line when absent."""
    if format == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise ImportError(f"export to onnx needs the onnx and onnxruntime packages ({e}); "
                              "install them with: pip install 'mlplab[export]'") from None


def export(run, format: str, path: str | Path, x=None, na_values=()) -> float:
    """Write ``run``'s model with its preprocessing as ``format`` (onnx | torchscript) to ``path`` and
    ``path`` + ".json"; check the file against mlplab on ``x`` (raw rows; default ``check_rows(run)``; a table
    run: a table, file or DataFrame, default its test rows, read with ``na_values`` as missing besides the
    run's own) and return the largest absolute difference. See the module docstring for the graph's inputs
    and outputs."""
    if run.schema.columns is not None:
        x, checked_on = export_table.check_table(run, x, na_values)
    else:
        x, checked_on = export_array.check_rows(run) if x is None else (np.asarray(x), f"{len(x)} rows given")
    return write_checked(run, format, path, x, checked_on)


def graph(run, x) -> tuple[nn.Module, tuple[Tensor, ...], dict[str, np.ndarray], np.ndarray]:
    """(the module to export, example inputs to trace it on, its inputs for rows ``x``, mlplab's answer)."""
    if run.schema.columns is not None:
        return export_table.table_graph(run, x)
    return export_array.array_graph(run, x)


def write_checked(run, format: str, path: str | Path, x, checked_on: str) -> float:
    """``export`` on raw rows ``x`` (a table run: a pyarrow Table) described as ``checked_on`` in FILE.json."""
    lookup(FORMATS, format, "format")
    needs_packages(format)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--out must name a file; {path} is a folder (try {path / ('model.' + format)})")
    for target in (path, path.with_name(path.name + ".json")):  # never a device, a run folder's file, the rows
        check_output(target, inputs=[run.config.data, run.config.test], force=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    model, examples, feeds, want = graph(run, x)
    output = output_name(run.schema.task)
    write, load = (write_onnx, run_onnx) if format == "onnx" else (write_torchscript, run_torchscript)
    atol = absolute_tolerance(run.schema)

    def write_and_check(tmp: Path) -> None:
        write(model, examples, tmp, list(feeds), output)
        got = load(tmp, feeds).astype(np.float64)
        if got.shape != want.shape or not np.allclose(got, want, rtol=TOLERANCE, atol=atol):
            diff = np.abs(got - want).max() if got.shape == want.shape else float("nan")
            raise ValueError(f"the exported {format} model differs from mlplab by up to {diff:.3g} (tolerance "
                             f"{np.max(atol):.3g} + {TOLERANCE:g}·|value|) on {checked_on}; nothing was written. "
                             "The file computes in float32, where inputs far from zero for their spread (e.g. "
                             "1e6 ± 1) lose the digits the model needs: subtract an offset from them before training")
        nonlocal max_diff
        max_diff = float(np.abs(got - want).max()) if len(want) else 0.0

    max_diff = float("nan")
    existed = path.exists()
    write_output(path, write_and_check, "export")
    text = json.dumps(finite(sidecar(run, format, path, max_diff, checked_on)), indent=2, sort_keys=True)
    try:
        write_output(path.with_name(path.name + ".json"), lambda p: p.write_text(text + "\n"), "export")
    except BaseException:  # a full disk or SIGTERM between the two: a new file never stays without its description
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return max_diff


def sidecar(run, format: str, path: Path, max_diff: float, checked_on: str) -> dict:
    """What a consumer of the file needs to know, as JSON."""
    import mlplab

    schema = run.schema
    if schema.columns is None:
        inputs = export_array.sidecar_inputs(schema)
    else:  # the cells of a table: how to build each input, and what the graph does with them
        inputs = export_table.sidecar_inputs(schema.columns)
    output = output_name(schema.task)
    if schema.task == "regression":
        meaning = "predicted values in the target's own units (mlplab's Run.predict)"
    else:
        meaning = ("class probabilities, one column per class in class order (binary: P(class 0), P(class 1)); "
                   "argmax is the class index that Run.predict returns")
    return {
        "format": format, "file": path.name, "mlplab_version": mlplab.__version__, "torch_version": torch.__version__,
        "opset": OPSET if format == "onnx" else None, "task": schema.task, "dataset": schema.name,
        "run": None if run.path is None else str(run.path), "loss": loss_for_task(run.config.loss, schema.task),
        **inputs,
        "output": {"name": output, "dtype": "float32", "shape": ["batch", 2 if schema.task == "binary" else
                   schema.output_size], "meaning": meaning},
        "class_names": None if schema.class_names is None else list(schema.class_names), "labels": schema.labels,
        "check": {"loaded_with": FORMATS[format], "on": checked_on, "max_abs_difference": max_diff,
                  "tolerance": TOLERANCE, "atol": float(np.max(absolute_tolerance(schema)))},
    }
