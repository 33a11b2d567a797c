"""``export(run, format, path)``: a run's model as one ONNX or TorchScript file that takes RAW rows.

The graph holds everything ``Run.predict`` does with numbers, so a consumer needs no mlplab:

* the input scaling z = (raw − mean) / scale is folded into the first Linear layer:
  W' = W / scale (per input column), b' = b − W' · mean (before a numeric embedding, whose sin and cos take no
  fold, it stays a ``Standardize`` layer);
* for regression, the target de-standardisation y = scale_y · out + mean_y is folded into the last one:
  W'' = scale_y · W, b'' = scale_y · b + mean_y (both folds in float64, then cast to float32);
* for classification, the probabilities are computed inside: softmax (multiclass) or sigmoid as
  (P(0), P(1)) (binary).

Input ``inputs``: float32 (batch, *input_shape), raw rows as ``Run.predict`` takes them (images (batch, 28, 28);
flattened inside); a run trained on a table takes its cells, ``numeric`` and ``categorical``, and encodes its
columns inside (mlplab.runs.export_table). Output ``probabilities`` (batch, classes), columns in class order,
whose argmax is ``Run.predict``'s class index; or ``values`` (batch, targets) in the target's own units.
``FILE.json`` beside the file says so, with the class names, the task and the mlplab version.

After writing, the file is loaded back (onnxruntime / ``torch.jit.load``) and compared with ``run.predict_proba``
(``run.predict`` for regression) on the run's test rows (else rows drawn from the training mean and scale; a
table run: else the rows given); a difference above 1e-5 (atol and rtol; a regression's atol is 1e-5 of the
target's standard deviation, in its units: mlplab's own float32 model carries ~1e-7 of it, so 1e-5 in target
units would fail targets spread over hundreds) is a ValueError and leaves no file.

>>> diff = export(run, "onnx", "model.onnx")                      # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.models import activations as torch_activations
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.registry import lookup
from mlplab.runs.rundir import atomic_write, write_json
from mlplab.scratch import activations as scratch_activations
from mlplab.scratch import dropout as scratch_dropout
from mlplab.scratch import mlp as scratch_mlp
from mlplab.training.losses import loss_for_task

FORMATS = {"onnx": "onnxruntime", "torchscript": "torch.jit.load"}  # format -> what the check loads it with
OPSET = 17
TOLERANCE = 1e-5   # atol and rtol, as torch.testing.assert_close takes them
MAX_CHECK_ROWS = 1000
INPUT_NAME = "inputs"

# Every activation mlplab has, as the torch module ONNX (opset 17) and TorchScript both take; all nine export.
EXPORTABLE = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softmax": lambda: nn.Softmax(dim=-1),
              "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": lambda: nn.ELU(1.0), "gelu": nn.GELU,
              "silu": nn.SiLU, "identity": nn.Identity}
OUTPUT_LAYERS = (nn.LogSoftmax, nn.Sigmoid, nn.Softmax)  # what a loss (nll, bce) appends; the head replaces it


class Standardize(nn.Module):
    """x → (x − mean) / scale per column: the input scaling where no Linear comes first to fold it into."""

    def __init__(self, mean: Tensor, scale: Tensor):
        super().__init__()
        self.register_buffer("mean", mean.double().cpu().reshape(-1))
        self.register_buffer("scale", scale.double().cpu().reshape(-1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.scale   # (N, D)


class TwoClassProbabilities(nn.Module):
    """(N, 1) logits → (N, 2) = (1 − p, p), p = sigmoid(logit): the columns ``Run.predict_proba`` gives."""

    def forward(self, z: Tensor) -> Tensor:
        p = torch.sigmoid(z)                  # (N, 1)
        return torch.cat([1 - p, p], dim=1)   # (N, 2)


def absolute_tolerance(schema) -> np.ndarray | float:
    """The check's atol: TOLERANCE, times the target's standard deviation (per target) for a regression."""
    if schema.task == "regression" and schema.target_stats is not None:
        return TOLERANCE * schema.target_stats[1].double().cpu().numpy().reshape(-1)
    return TOLERANCE


def output_name(task: str) -> str:
    return "values" if task == "regression" else "probabilities"


def affine_layers(model: nn.Module) -> list[nn.Module]:
    """The model's layers as plain torch modules, eval mode: Linear (float64, (out, in) weights), activations,
    a numeric embedding (a float64 copy); dropout (the identity in eval) and the loss's output layer left out."""
    layers: list[nn.Module] = []
    for m in model:
        if m is model[-1] and (isinstance(m, OUTPUT_LAYERS) or (isinstance(m, torch_activations.Activation)
                                                                and m.name in scratch_mlp.OUTPUTS)):
            continue
        elif isinstance(m, (nn.Flatten, scratch_mlp.Flatten)):
            layers.append(nn.Flatten())
        elif isinstance(m, (nn.Linear, scratch_mlp.Linear)):
            weight, bias = (m.weight, m.bias) if isinstance(m, nn.Linear) else (m.W.T, m.b)  # scratch: W (in, out)
            # skip_init: the weights are copied in, so draw nothing from the caller's global RNG
            linear = nn.utils.skip_init(nn.Linear, weight.shape[1], weight.shape[0], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(weight.detach().cpu())
                linear.bias.copy_(torch.zeros(weight.shape[0]) if bias is None else bias.detach().cpu())
            layers.append(linear)
        elif isinstance(m, (nn.Dropout, scratch_dropout.Dropout)):
            continue
        elif type(m) is PeriodicEmbedding:  # sin, cos, MatMul: ONNX opset 17 and TorchScript take it as it is
            layers.append(copy.deepcopy(m).to("cpu", torch.float64))
        elif isinstance(m, torch_activations.Activation):
            known = m.fn in (torch_activations.ACTIVATIONS.get(m.name), scratch_activations.ACTIVATIONS.get(m.name))
            if not known or m.name not in EXPORTABLE:
                raise ValueError(f"activation {m.name!r} cannot be exported: only mlplab's own activations can "
                                 f"({', '.join(EXPORTABLE)}); retrain with one of them")
            layers.append(EXPORTABLE[m.name]())
        else:
            raise ValueError(f"layer {type(m).__name__} cannot be exported: an mlplab MLP holds Flatten, Linear, "
                             "activations, dropout and a PeriodicEmbedding only")
    return layers


def exportable_model(run) -> nn.Module:
    """The float32 ``nn.Sequential`` that takes raw rows and returns what ``Run.predict`` sees before argmax."""
    schema = run.schema
    layers = affine_layers(run.model)
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    with torch.no_grad():
        first = next(m for m in layers if not isinstance(m, nn.Flatten))
        if schema.feature_stats is not None and first is not linears[0]:  # an embedding: sin(c·z) takes no fold
            layers.insert(layers.index(first), Standardize(*schema.feature_stats))
        elif schema.feature_stats is not None:  # z = (x − mean) / scale, so W z + b = (W / scale) x + (b − W' mean)
            mean, scale = (s.double().cpu() for s in schema.feature_stats)
            first.weight.div_(scale)               # (out, in) / (in,)
            first.bias.sub_(first.weight @ mean)   # (out,)
        if schema.task == "regression" and schema.target_stats is not None:  # y = scale_y · out + mean_y
            mean_y, scale_y = (s.double().cpu().reshape(-1) for s in schema.target_stats)
            last = linears[-1]
            last.weight.mul_(scale_y[:, None])     # (out, in) · (out, 1)
            last.bias.mul_(scale_y).add_(mean_y)
    if schema.task == "multiclass":
        layers.append(nn.Softmax(dim=1))
    elif schema.task == "binary":
        layers.append(TwoClassProbabilities())
    return nn.Sequential(*layers).float().eval()


def expected(run, x: np.ndarray) -> np.ndarray:
    """What the exported graph must return for raw rows ``x``: mlplab's own answer, (N, C) or (N, T)."""
    if run.schema.task == "regression":
        return run.predict(x).reshape(len(x), -1)
    return run.predict_proba(x)


def check_rows(run) -> tuple[np.ndarray, str]:
    """Raw rows to check the exported file on, and what they are: the run's test rows when it has them (a fresh
    run, or a bundled/synthetic dataset reloaded with the run's seed), else 64 rows drawn around the training
    mean with the training scale."""
    from mlplab.data.load import BUNDLED, SYNTHETIC, load_dataset

    data = run.data
    if data is None and run.config.dataset in (*BUNDLED, *SYNTHETIC):
        data = load_dataset(run.config.dataset, data_dir=run.config.data_dir, seed=run.config.seed,
                            val_fraction=run.config.val_fraction)
        if tuple(data.input_shape) != tuple(run.schema.input_shape):
            data = None
    if data is not None and data.x_test is not None and len(data.x_test):
        rows = data.unstandardize(data.x_test[:MAX_CHECK_ROWS]).double().numpy()
        return rows, f"{len(rows)} test rows"
    shape = tuple(run.schema.input_shape)
    z = np.random.default_rng(0).standard_normal((64, int(np.prod(shape))))
    if run.schema.feature_stats is not None:
        mean, scale = (s.double().cpu().numpy() for s in run.schema.feature_stats)
        z = mean + scale * z
    return z.reshape(64, *shape), "64 rows drawn from the training mean and scale"


def write_onnx(model: nn.Module, examples: tuple[Tensor, ...], path: Path, names: list[str], output: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        torch.onnx.export(model, examples, str(path), dynamo=False, opset_version=OPSET,
                          input_names=names, output_names=[output],
                          dynamic_axes={name: {0: "batch"} for name in (*names, output)})


def run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def write_torchscript(model: nn.Module, examples: tuple[Tensor, ...], path: Path, names: list[str],
                      output: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated.*")
        torch.jit.trace(model, examples).save(str(path))


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
        from mlplab.runs.export_table import check_table

        x, checked_on = check_table(run, x, na_values)
    else:
        x, checked_on = check_rows(run) if x is None else (np.asarray(x), f"{len(x)} rows given")
    return write_checked(run, format, path, x, checked_on)


def graph(run, x) -> tuple[nn.Module, tuple[Tensor, ...], dict[str, np.ndarray], np.ndarray]:
    """(the module to export, example inputs to trace it on, its inputs for rows ``x``, mlplab's answer)."""
    if run.schema.columns is not None:
        from mlplab.runs.export_table import table_graph

        return table_graph(run, x)
    x = np.ascontiguousarray(x, dtype=np.float32)  # the graph's input dtype; Run.predict gets the same numbers
    return exportable_model(run), (torch.zeros(2, *run.schema.input_shape),), {INPUT_NAME: x}, expected(run, x)


def write_checked(run, format: str, path: str | Path, x, checked_on: str) -> float:
    """``export`` on raw rows ``x`` (a table run: a pyarrow Table) described as ``checked_on`` in FILE.json."""
    lookup(FORMATS, format, "format")
    needs_packages(format)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--out must name a file; {path} is a folder (try {path / ('model.' + format)})")
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
    atomic_write(path, write_and_check)
    write_json(path.with_name(path.name + ".json"), sidecar(run, format, path, max_diff, checked_on))
    return max_diff


def sidecar(run, format: str, path: Path, max_diff: float, checked_on: str) -> dict:
    """What a consumer of the file needs to know, as JSON."""
    import mlplab

    schema = run.schema
    if schema.columns is None:
        inputs = {"input": {"name": INPUT_NAME, "dtype": "float32", "shape": ["batch", *schema.input_shape],
                            "meaning": "raw rows as given to Run.predict; the training scaling is folded into the "
                                       "first layer"}}
    else:  # the cells of a table: how to build each input, and what the graph does with them
        from mlplab.runs.export_table import sidecar_inputs

        inputs = sidecar_inputs(schema.columns)
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
