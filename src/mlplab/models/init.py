"""Weight initialisation by name: torch's ``nn.init`` schemes, a spec parser, and a rule for a whole model.

A spec is a scheme name with optional ``:``-separated arguments, positional or ``key=value``, in the order of
the scheme's signature: ``normal:0.01`` (mean 0, std 0.01), ``uniform:-0.1:0.1``, ``constant:0.5``,
``kaiming_normal:mode=fan_out:nonlinearity=relu``. ``default`` is what ``nn.Linear`` does on its own:
weights Kaiming-uniform with a=√5 and biases U(−1/√fan_in, 1/√fan_in).
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import Tensor, nn

from mlplab.registry import lookup


def zeros(w: Tensor, generator=None) -> Tensor:
    """w = 0."""
    return nn.init.zeros_(w)


def ones(w: Tensor, generator=None) -> Tensor:
    """w = 1."""
    return nn.init.ones_(w)


def constant(w: Tensor, val: float = 0.0, generator=None) -> Tensor:
    """w = val."""
    return nn.init.constant_(w, val)


def eye(w: Tensor, generator=None) -> Tensor:
    """The identity matrix (2-D only), ones on the diagonal of a rectangular one."""
    return nn.init.eye_(w)


def normal(w: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """w ~ N(mean, std²)."""
    return nn.init.normal_(w, mean, std, generator=generator)


def uniform(w: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """w ~ U(a, b)."""
    return nn.init.uniform_(w, a, b, generator=generator)


def xavier_normal(w: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """w ~ N(0, gain² · 2 / (fan_in + fan_out)), Glorot & Bengio (2010)."""
    return nn.init.xavier_normal_(w, gain, generator=generator)


def xavier_uniform(w: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """w ~ U(−a, a), a = gain · √(6 / (fan_in + fan_out)), Glorot & Bengio (2010)."""
    return nn.init.xavier_uniform_(w, gain, generator=generator)


def kaiming_normal(w: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                   generator=None) -> Tensor:
    """w ~ N(0, (gain / √fan_mode)²), He et al. (2015); gain from ``nonlinearity`` (√2 for relu)."""
    return nn.init.kaiming_normal_(w, a, mode, nonlinearity, generator=generator)


def kaiming_uniform(w: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """w ~ U(−b, b), b = gain · √(3 / fan_mode), He et al. (2015)."""
    return nn.init.kaiming_uniform_(w, a, mode, nonlinearity, generator=generator)


INITS = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "eye": eye,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "kaiming_normal": kaiming_normal,
    "kaiming_uniform": kaiming_uniform,
}
SPECIAL = ("default",)  # not a function of one tensor: nn.Linear's own reset, needs the layer's fan_in


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def parse_init(spec: str, registry: dict | None = None) -> tuple[str, tuple, dict]:
    """Split ``"normal:0:0.01"`` into ``("normal", (0.0, 0.01), {})``; unknown names list the valid ones.

    >>> parse_init("kaiming_normal:mode=fan_out")
    ('kaiming_normal', (), {'mode': 'fan_out'})
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"init must be a scheme name like 'normal:0.01' or 'xavier_uniform'; got {spec!r}")
    name, *parts = spec.split(":")
    name = name.strip()
    if name not in SPECIAL:
        lookup({**(INITS if registry is None else registry), **dict.fromkeys(SPECIAL)}, name, "init")
    args, kwargs = [], {}
    for part in parts:
        key, eq, value = part.partition("=")
        if eq:
            kwargs[key.strip()] = _value(value.strip())
        elif kwargs:
            raise ValueError(f"init {spec!r}: positional argument {part!r} after a key=value one")
        else:
            args.append(_value(part.strip()))
    if name == "normal" and len(args) == 1:  # "normal:0.01" reads as the std, as d2l writes it
        args = [0.0, args[0]]
    if name not in SPECIAL:
        check_arguments(spec, name, args, kwargs)
    return name, tuple(args), kwargs


FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def check_arguments(spec: str, name: str, args: list, kwargs: dict) -> None:
    """The arguments fit the scheme's signature (shared by both sides) and its ranges: numbers finite in
    float32, std ≥ 0, a ≤ b. (A bad mode or nonlinearity is refused when the tensor is filled.)"""
    params = [p for p in inspect.signature(INITS[name]).parameters if p not in ("w", "generator")]
    if len(args) > len(params):
        takes = f"at most {len(params)} argument(s) ({', '.join(params)})" if params else "no arguments"
        raise ValueError(f"init {spec!r}: too many positional arguments: {name} takes {takes}; got {len(args)}")
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise ValueError(f"init {spec!r}: {name} has no argument {unknown[0]!r}; it takes: "
                         f"{', '.join(params) or 'none'}")
    try:
        bound = inspect.signature(INITS[name]).bind(None, *args, **kwargs)
    except TypeError as e:
        raise ValueError(f"init {spec!r}: {e}; see mlplab.models.init.{name} for its arguments") from None
    bound.apply_defaults()
    values = bound.arguments
    for key in ("mean", "std", "a", "b", "val", "gain"):
        if key in values and not isinstance(values[key], float):
            raise ValueError(f"init {spec!r}: {key} must be a number; got {values[key]!r}")
        if key in values and not abs(values[key]) <= FLOAT32_MAX:  # also NaN; weights are float32
            raise ValueError(f"init {spec!r}: {key} must be a finite number within float32's range "
                             f"(|x| <= {FLOAT32_MAX:.3g}); got {values[key]!r}")
    if values.get("std", 0.0) < 0:
        raise ValueError(f"init {spec!r}: std must be >= 0; got {values['std']}")
    if name == "uniform" and values["a"] > values["b"]:
        raise ValueError(f"init {spec!r}: uniform needs a <= b; got a={values['a']}, b={values['b']}")
    if name == "uniform" and values["b"] - values["a"] > FLOAT32_MAX:
        raise ValueError(f"init {spec!r}: uniform needs b - a <= {FLOAT32_MAX:.3g} (float32); got "
                         f"a={values['a']}, b={values['b']}")


def init_tensor(w: Tensor, spec: str, generator: torch.Generator | None = None,
                registry: dict | None = None) -> Tensor:
    """Fill ``w`` in place by ``spec``; bad arguments raise ValueError naming the spec."""
    name, args, kwargs = parse_init(spec, registry)
    if name == "default":
        raise ValueError("init 'default' applies to a whole layer; use init_linear")
    fn = (INITS if registry is None else registry)[name]
    try:
        with torch.no_grad():
            return fn(w, *args, generator=generator, **kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"init {spec!r} does not fit a tensor of shape {tuple(w.shape)}: {e}") from None


def init_linear(weight: Tensor, bias: Tensor | None, weight_spec: str, bias_spec: str = "zeros",
                generator: torch.Generator | None = None, registry: dict | None = None, fan_in: int | None = None):
    """Initialise one affine layer's weight and bias. ``fan_in`` defaults to ``weight.shape[1]`` (torch's layout)."""
    fan_in = weight.shape[1] if fan_in is None else fan_in
    if weight_spec == "default":
        with torch.no_grad():
            bound = 1.0 / math.sqrt(fan_in)
            # kaiming_uniform(a=√5) on (out, in) has bound √(6 / ((1 + 5) fan_in)) = 1 / √fan_in
            weight.uniform_(-bound, bound, generator=generator)
            if bias is not None:
                bias.uniform_(-bound, bound, generator=generator)
        return
    init_tensor(weight, weight_spec, generator, registry)
    if bias is not None:
        if bias_spec == "default":
            with torch.no_grad():
                bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
        else:
            init_tensor(bias, bias_spec, generator, registry)


def init_model(model: nn.Module, weight_spec: str, bias_spec: str = "zeros", seed: int = 0) -> nn.Module:
    """Re-initialise every ``nn.Linear`` in ``model``, in order: weights by ``weight_spec``, biases by
    ``bias_spec``, all from one generator seeded with ``seed``.

    >>> init_model(nn.Sequential(nn.Linear(3, 2)), "constant:0.5", "ones")[0].bias.tolist()
    [1.0, 1.0]
    """
    g = torch.Generator().manual_seed(seed)
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            init_linear(layer.weight, layer.bias, weight_spec, bias_spec, generator=g)
    return model
