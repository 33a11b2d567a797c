"""Layer statistics while training: what each layer's weights, gradients, updates and activations do per epoch.

``Inspector`` is a fit callback (mlplab.training.callbacks). Before the first epoch (epoch 0: the init) and
after every epoch it takes one fixed batch of training rows (the first ``batch`` rows, the same every time)
and, with forward hooks registered for that pass alone and removed after it, records one row per
(epoch, layer):

- layers that own parameters (Linear, Conv, RNN/LSTM, BatchNorm, their scratch twins, any module of your own):
  ``weight_norm`` ‖W‖ (its parameters with 2+ dims, else all of them), ``grad_norm`` ‖∂ℓ/∂W‖ of the mean loss
  on the inspected batch (eval mode, autograd), ``update_ratio`` ‖ΔW‖/‖W‖ of *one* step: the step a copy of
  the optimizer, with its state (momenta, Adam's moments), would take from these weights on that gradient
  (the ~1e-3 rule of thumb of CS231n); ``act_mean``/``act_std`` of the layer's outputs;
- activation modules (mlplab's ``Activation``, torch's ``nn.Tanh``, ``nn.ReLU``, ...): ``act_mean``,
  ``act_std``, ``saturated`` (tanh: the share of outputs with |a| > 0.97; sigmoid: a < 0.03 or a > 0.97) and
  ``dead`` (ReLU: the share of units, one per output feature, that are 0 on every inspected row).

Columns that do not apply are NaN. Training never sees a hook: the training steps (by hand or autograd) run as
without inspection, and a run without ``inspect`` builds no Inspector at all. Cost: one forward and backward on
the inspected batch and a copy of the model and optimizer per epoch: on the seed task (784-256-10, 60,000
Fashion-MNIST images, batch 256) one inspection took 9 ms (min of 20; 1 thread, 2026-12-03) next to an epoch of
0.75-0.9 s, about 1 % (``python benchmarks/bench_epoch.py --only mlplab --inspect``).

>>> from mlplab.data.load import load_dataset; from mlplab.models.mlp import MLP; from mlplab.training.fit import fit
>>> d = load_dataset("iris"); m = MLP(4, [8], 3, activation="tanh"); spy = Inspector(d)
>>> _ = fit(m, d, epochs=2, device="cpu", callbacks=[spy]); [r["layer"] for r in spy.rows[:3]]
['1', '2', '3']
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import torch
from torch import Tensor, nn

from mlplab.training.callbacks import Callback

COLUMNS = ("epoch", "layer", "module", "weight_norm", "grad_norm", "update_ratio", "act_mean", "act_std",
           "saturated", "dead")
BATCH = 256                 # inspected rows: enough for stable shares, cheap next to an epoch
SATURATED = {"tanh": lambda a: a.abs() > 0.97, "sigmoid": lambda a: (a < 0.03) | (a > 0.97)}
DEAD = ("relu",)            # units that output exactly 0 for every negative input
TORCH_ACTIVATIONS = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu",
                     nn.ELU: "elu", nn.GELU: "gelu", nn.SiLU: "silu", nn.Softplus: "softplus"}


def activation_name(module: nn.Module) -> str | None:
    """The activation ``module`` applies (``tanh``, ``relu``, ...), or None when it is not an activation."""
    from mlplab.models.activations import Activation  # mlplab's and (by subclass) the scratch twin's

    if isinstance(module, Activation):
        return module.name
    return next((name for cls, name in TORCH_ACTIVATIONS.items() if isinstance(module, cls)), None)


def inspected_layers(model: nn.Module) -> list[tuple[str, nn.Module, str | None]]:
    """(name, module, activation name or None) for every activation module and every module that owns
    parameters (activation None), in model order."""
    found = []
    for name, m in model.named_modules():
        act = activation_name(m)
        if act is not None or any(True for _ in m.parameters(recurse=False)):
            found.append((name, m, act))
    return found


def weights_of(module: nn.Module) -> list[Tensor]:
    """The parameters a weight norm is of: those with 2+ dims (biases left out), else all of them."""
    own = list(module.parameters(recurse=False))
    return [p for p in own if p.dim() >= 2] or own


def norm(tensors: list[Tensor | None]) -> float:
    present = [t.detach().double() for t in tensors if t is not None]
    return math.sqrt(sum(float((t * t).sum()) for t in present)) if present else float("nan")


def activation_stats(out: Tensor, act: str | None) -> dict:
    """Mean, std, and (by activation) the saturated share of outputs or the dead share of units."""
    a = out.detach().float()
    stats = {"act_mean": float(a.mean()), "act_std": float(a.std()) if a.numel() > 1 else 0.0}
    if act in SATURATED:
        stats["saturated"] = float(SATURATED[act](a).float().mean())
    if act in DEAD:
        stats["dead"] = float((a.reshape(len(a), -1) == 0).all(dim=0).float().mean())   # per unit, over rows
    return stats


class Inspector(Callback):
    """Collects per-(epoch, layer) statistics in ``rows`` (see the module docstring); ``on_rows(rows)``, when
    given, receives all rows so far after each inspection (the run writes layers.csv with it). ``loss``: the
    run's loss by name (None: the task's), without class weights or label smoothing."""

    def __init__(self, data, loss: str | None = None, *, batch: int = BATCH, on_rows=None):
        from mlplab.training.losses import LOSSES, get_loss, loss_for_task

        x, y = data.encoded_splits()["train"]
        self.x, self.y = x[:batch], y[:batch]                         # the same rows every epoch
        self.loss_fn = get_loss(loss_for_task(loss, data.task), LOSSES)
        self.rows: list[dict] = []
        self.on_rows = on_rows

    def on_train_begin(self, history, model, opt):
        start = history.rows[-1]["epoch"] if history.rows else 0
        if start == 0:  # the init itself; a resumed run has its earlier rows in layers.csv
            self.record(0, model, opt)

    def on_epoch_end(self, epoch, history, model, opt):
        self.record(epoch, model, opt)

    def record(self, epoch: int, model: nn.Module, opt: torch.optim.Optimizer) -> list[dict]:
        rows = inspect_once(model, opt, self.x, self.y, self.loss_fn, epoch)
        self.rows += rows
        if self.on_rows is not None:
            self.on_rows(self.rows)
        return rows


def inspect_once(model: nn.Module, opt: torch.optim.Optimizer | None, x: Tensor, y: Tensor, loss_fn,
                 epoch: int) -> list[dict]:
    """One inspection pass at ``model``'s current weights; the model and optimizer are left as they were."""
    param = next(model.parameters())
    x, y = x.to(param.device, param.dtype), y.to(param.device)
    twin, twin_opt = copy.deepcopy((model, opt))  # one memo: the copied optimizer holds the copied parameters
    layers = inspected_layers(twin)
    outputs: dict[str, Tensor] = {}

    def keep(name):
        def hook(module, inputs, out):
            outputs[name] = out[0] if isinstance(out, tuple) else out   # RNN/LSTM: (outputs, state)
        return hook

    handles = [m.register_forward_hook(keep(name)) for name, m, _ in layers]
    twin.eval()
    try:
        with torch.enable_grad():
            twin.zero_grad(set_to_none=True)
            loss_fn(twin(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    weighted = [(name, m) for name, m, act in layers if act is None]
    grads = {name: norm([p.grad for p in weights_of(m)]) for name, m in weighted}
    before = {name: [p.detach().clone() for p in weights_of(m)] for name, m in weighted}
    if twin_opt is not None:
        twin_opt.step()
    rows = []
    for name, m, act in layers:
        row = dict.fromkeys(COLUMNS, float("nan"))
        row.update(epoch=epoch, layer=name, module=act or type(m).__name__)
        if name in before:
            w0 = before[name]
            row["weight_norm"] = norm(w0)
            row["grad_norm"] = grads[name]
            step = norm([p.detach() - w for p, w in zip(weights_of(m), w0)])
            if twin_opt is not None and row["weight_norm"]:
                row["update_ratio"] = step / row["weight_norm"]
        if name in outputs:
            row.update(activation_stats(outputs[name], act))
        rows.append(row)
    return rows


def write_layers_csv(path: str | Path, rows: list[dict]) -> None:
    """``rows`` as a CSV with COLUMNS (NaN cells empty)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                         for r in rows)


def read_layers_csv(path: str | Path) -> list[dict]:
    """The rows of a layers.csv (``write_layers_csv``); anything else is a ValueError naming the file."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        try:
            if reader.fieldnames != list(COLUMNS):
                raise ValueError(f"its columns are {reader.fieldnames}")
            return [{k: (int(v) if k == "epoch" else v if k in ("layer", "module") else float(v or "nan"))
                     for k, v in row.items()} for row in reader]
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path} is not a layers.csv as mlplab train --inspect writes it ({e}); train again "
                             "with --inspect") from None


def layers_frame(rows: list[dict] | None, folder: str | Path | None = None):
    """The rows (else ``folder``/layers.csv) as a pandas DataFrame, one row per (epoch, layer)."""
    import pandas as pd

    if rows is None and folder is not None and (Path(folder) / "layers.csv").is_file():
        rows = read_layers_csv(Path(folder) / "layers.csv")
    if rows is None:
        raise ValueError("this run has no layer statistics: train it with inspect=True (mlplab train --inspect)")
    return pd.DataFrame(rows, columns=list(COLUMNS))
