"""Look-ups in the plain name→callable dicts, with one error message for an unknown name; and the one map
from an implementation (``torch`` or ``scratch``) to its modules."""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")

# Each building block twice: torch's built-in and the from-scratch twin, under the same names and signatures.
IMPLS = {
    "torch": {"activations": "mlplab.models.activations", "init": "mlplab.models.init",
              "dropout": "mlplab.models.dropout", "mlp": "mlplab.models.mlp", "cnn": "mlplab.models.cnn",
              "rnn": "mlplab.models.rnn", "losses": "mlplab.training.losses", "optim": "mlplab.training.optim"},
    "scratch": {"activations": "mlplab.scratch.activations", "init": "mlplab.scratch.init",
                "dropout": "mlplab.scratch.dropout", "mlp": "mlplab.scratch.mlp", "cnn": "mlplab.scratch.cnn",
                "rnn": "mlplab.scratch.rnn", "losses": "mlplab.scratch.losses", "optim": "mlplab.scratch.optim"},
}


def lookup(registry: dict[str, T], name: str, what: str) -> T:
    """Return ``registry[name]``; an unknown name raises ValueError listing the valid ones.

    >>> lookup({"relu": 1}, "relu", "activation")
    1
    """
    if not isinstance(name, str) or name not in registry:
        valid = ", ".join(sorted(registry))
        plural = what + ("es" if what.endswith("s") else "s")
        close = difflib.get_close_matches(str(name), list(registry), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {name!r}; valid {plural}: {valid}{hint}")
    return registry[name]


def impl_module(impl: str, part: str) -> ModuleType:
    """The module of building block ``part`` (activations, init, dropout, mlp, cnn, rnn, losses, optim) for ``impl``.

    >>> impl_module("scratch", "losses").__name__
    'mlplab.scratch.losses'
    """
    return importlib.import_module(lookup(IMPLS, impl, "impl")[part])
