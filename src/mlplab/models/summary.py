"""Model summaries: each layer's output shape and parameter count with its formula, and totals.

>>> from mlplab.models.mlp import MLP
>>> print(render(summarize(MLP(784, [256], 10), (28, 28))))   # doctest: +NORMALIZE_WHITESPACE
layer  type        output shape  parameters  formula
0      Flatten     (N, 784)      0
1      Linear      (N, 256)      200,960     784·256 + 256 = 200,960
2      Activation  (N, 256)      0           relu
3      Linear      (N, 10)       2,570       256·10 + 10 = 2,570
total                            203,530     trainable 203,530
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerRow:
    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    formula: str


def formula(module: nn.Module) -> str:
    """``in·out + out = total`` for an affine layer, from its own parameter shapes."""
    own = dict(module.named_parameters(recurse=False))
    if not own:
        return getattr(module, "name", "") if not list(module.children()) else ""
    # nn.Linear keeps its weight as (out, in); print in·out, the order the equation X @ W reads
    dims = [tuple(reversed(p.shape)) if isinstance(module, nn.Linear) and p.ndim == 2 else tuple(p.shape)
            for p in own.values()]
    terms = ["·".join(map(str, d)) if len(d) > 1 else str(d[0] if d else 1) for d in dims]
    total = sum(p.numel() for p in own.values())
    return f"{' + '.join(terms)} = {total:,}"


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Run one zero sample through ``model`` (eval mode, no grad) and record every leaf layer's output."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children()) and name]
    shapes: dict[str, tuple] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
             for name, m in leaves]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device, dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows = []
    for name, m in leaves:
        n = sum(p.numel() for p in m.parameters(recurse=False))
        rows.append(LayerRow(name, type(m).__name__, shapes.get(name, ()), n, formula(m)))
    return rows


def render(rows: list[LayerRow], model: nn.Module | None = None) -> str:
    """A plain-text table; totals count every parameter once."""
    total = sum(r.params for r in rows)
    trainable = total if model is None else sum(p.numel() for p in model.parameters() if p.requires_grad)
    table = [("layer", "type", "output shape", "parameters", "formula")]
    for r in rows:
        shape = "(N, " + ", ".join(str(d) for d in r.shape[1:]) + ")" if r.shape else "-"
        table.append((r.name, r.kind, shape, f"{r.params:,}", r.formula))
    table.append(("total", "", "", f"{total:,}", f"trainable {trainable:,}"))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)


def parameter_table(model: nn.Module) -> str:
    """Named parameters with shapes, then the state_dict keys (buffers included)."""
    lines = ["named parameters:"]
    lines += [f"  {name:<30} {tuple(p.shape)}  {p.numel():,}" for name, p in model.named_parameters()]
    lines.append("state_dict keys:")
    lines += [f"  {key:<30} {tuple(t.shape)}" for key, t in model.state_dict().items()]
    return "\n".join(lines)
