"""An array run (images, a matrix of numbers) as an exported graph: the run's model as one float32
``nn.Sequential`` on raw rows, which a table run's graph (mlplab.runs.export_table) also ends with.

The graph holds everything ``Run.predict`` does with numbers:

* the input scaling z = (raw − mean) / scale is folded into the first Linear layer:
  W' = W / scale (per input column), b' = b − W' · mean (before a numeric embedding, whose sin and cos take no
  fold, it stays a ``Standardize`` layer);
* for regression, the target de-standardisation y = scale_y · out + mean_y is folded into the last one:
  W'' = scale_y · W, b'' = scale_y · b + mean_y (both folds in float64, then cast to float32);
* for classification, the probabilities are computed inside: softmax (multiclass) or sigmoid as
  (P(0), P(1)) (binary).

Input ``inputs``: float32 (batch, *input_shape), raw rows as ``Run.predict`` takes them (images (batch, 28, 28);
flattened inside). The file is checked (mlplab.runs.export) on the run's test rows, else on rows drawn from
the training mean and scale (``check_rows``).

>>> model = exportable_model(run)                                  # doctest: +SKIP
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.models import activations as torch_activations
from mlplab.models.embeddings import PeriodicEmbedding
from mlplab.scratch import activations as scratch_activations
from mlplab.scratch import dropout as scratch_dropout
from mlplab.scratch import mlp as scratch_mlp

MAX_CHECK_ROWS = 1000  # rows the check runs on, at most (a table run's too)
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
        flat = x.reshape(x.shape[0], -1)                        # (N, D): sequences (N, T, F) and images too
        return ((flat - self.mean) / self.scale).reshape(x.shape)


class TwoClassProbabilities(nn.Module):
    """(N, 1) logits → (N, 2) = (1 − p, p), p = sigmoid(logit): the columns ``Run.predict_proba`` gives."""

    def forward(self, z: Tensor) -> Tensor:
        p = torch.sigmoid(z)                  # (N, 1)
        return torch.cat([1 - p, p], dim=1)   # (N, 2)


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


class TargetUnits(nn.Module):
    """Standardised regression outputs → the target's own units: y = scale · out + mean."""

    def __init__(self, mean: Tensor, scale: Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float().cpu().reshape(-1))
        self.register_buffer("scale", scale.float().cpu().reshape(-1))

    def forward(self, out: Tensor) -> Tensor:
        return out * self.scale + self.mean   # (N, T)


def traced_model(run) -> nn.Module:
    """Any other model (a CNN, an RNN, a TabM-style ensemble, your own module) as torch runs it, between the
    input scaling and the output the task gives: exported where torch can trace its forward."""
    schema = run.schema
    layers = [] if schema.feature_stats is None else [Standardize(*schema.feature_stats).float()]
    layers.append(copy.deepcopy(run.model).to("cpu", torch.float32).eval())
    if schema.task == "multiclass":
        layers.append(nn.Softmax(dim=1))
    elif schema.task == "binary":
        layers.append(TwoClassProbabilities())
    elif schema.target_stats is not None:
        layers.append(TargetUnits(*schema.target_stats))
    return nn.Sequential(*layers).float().eval()


def is_plain_mlp(run) -> bool:
    """A run of mlplab's MLP (torch or scratch, not an ensemble): folded layer by layer when exported."""
    return run.config.model == "mlp" and not run.config.ensemble


def exportable_model(run) -> nn.Module:
    """The float32 ``nn.Sequential`` that takes raw rows and returns what ``Run.predict`` sees before argmax."""
    schema = run.schema
    if not is_plain_mlp(run):
        if run.config.loss in ("nll", "bce"):
            raise ValueError(f"a {run.config.model} run trained with loss {run.config.loss!r} cannot be exported; "
                             "retrain with cross_entropy or bce_with_logits")
        return traced_model(run)
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
        rows = torch.as_tensor(data.x_test[:MAX_CHECK_ROWS]).double().numpy()
        return rows, f"{len(rows)} test rows"
    shape = tuple(run.schema.input_shape)
    z = np.random.default_rng(0).standard_normal((64, int(np.prod(shape))))
    if run.schema.feature_stats is not None:
        mean, scale = (s.double().cpu().numpy() for s in run.schema.feature_stats)
        z = mean + scale * z
    return z.reshape(64, *shape), "64 rows drawn from the training mean and scale"


def array_graph(run, x) -> tuple[nn.Module, tuple[Tensor, ...], dict[str, np.ndarray], np.ndarray]:
    """``mlplab.runs.export.graph`` for an array run and raw rows ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float32)  # the graph's input dtype; Run.predict gets the same numbers
    return exportable_model(run), (torch.zeros(2, *run.schema.input_shape),), {INPUT_NAME: x}, expected(run, x)


def sidecar_inputs(schema) -> dict:
    """FILE.json's ``input``: the raw rows the graph takes."""
    return {"input": {"name": INPUT_NAME, "dtype": "float32", "shape": ["batch", *schema.input_shape],
                      "meaning": "raw rows as given to Run.predict; the training scaling is folded into the "
                                 "first layer"}}
