"""Look-ups in the plain name→callable dicts, with one error message for an unknown name."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def lookup(registry: dict[str, T], name: str, what: str) -> T:
    """Return ``registry[name]``; an unknown name raises ValueError listing the valid ones.

    >>> lookup({"relu": 1}, "relu", "activation")
    1
    """
    if not isinstance(name, str) or name not in registry:
        valid = ", ".join(sorted(registry))
        plural = what + ("es" if what.endswith("s") else "s")
        raise ValueError(f"unknown {what} {name!r}; valid {plural}: {valid}")
    return registry[name]
