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


def _recurrent(own: dict) -> str:
    """Per layer H·(D + H) + 2·H (torch's two biases), times 4 for an LSTM's gates; layers summed."""
    terms = []
    for layer in range(sum(name.startswith("weight_ih_l") for name in own)):
        (gh, d), h = own[f"weight_ih_l{layer}"].shape, own[f"weight_hh_l{layer}"].shape[1]
        term = f"{h}·({d} + {h}) + 2·{h}"
        terms.append(term if gh == h else f"{gh // h}·({term})")
    return " + ".join(terms)


def formula(module: nn.Module) -> str:
    """Each layer's parameter count as its formula, from its own parameter shapes, torch's or scratch's:

    affine ``in·out + out``, conv ``k·k·C_in·C_out + C_out``, batch norm ``2·C``, RNN ``H·(D + H) + 2·H``
    and LSTM ``4·(H·(D + H) + 2·H)`` per layer, each ``= total``.
    """
    own = dict(module.named_parameters(recurse=False))
    if not own:
        return getattr(module, "name", "") if not list(module.children()) else ""
    total = sum(p.numel() for p in own.values())
    weight = own.get("weight")
    if "weight_ih_l0" in own:
        text = _recurrent(own)
    elif "running_mean" in dict(module.named_buffers(recurse=False)):
        text = f"2·{own['weight'].shape[0]}"                          # γ and β per channel
    elif weight is not None and weight.ndim == 4:
        c_out, c_in, kh, kw = weight.shape                            # torch's conv layout
        text = f"{kh}·{kw}·{c_in}·{c_out}" + (f" + {c_out}" if own.get("bias") is not None else "")
    else:
        # a 2-D ``weight`` is torch's (out, in): print in·out, the order the equation X @ W reads
        dims = [tuple(reversed(p.shape)) if name == "weight" and p.ndim == 2 else tuple(p.shape)
                for name, p in own.items()]
        text = " + ".join("·".join(map(str, d)) if len(d) > 1 else str(d[0] if d else 1) for d in dims)
    return f"{text} = {total:,}"


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Run one zero sample through ``model`` (eval mode, no grad) and record every leaf layer's output."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children()) and name]
    shapes: dict[str, tuple] = {}
    def record(name, out):  # an RNN returns (output, final state): record the output
        shapes[name] = tuple((out[0] if isinstance(out, tuple) else out).shape)

    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: record(name, out)) for name, m in leaves]
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
