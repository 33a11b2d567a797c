"""The errors a run reports to its user as one line (the CLI's exit code 2), beside ValueError and TypeError.

A leaf: the CLI catches them without importing torch.
"""


class NonFiniteLoss(ArithmeticError):
    """The training (or validation/test) loss became NaN or infinite."""


def chained(e: BaseException | None, types) -> BaseException | None:
    """The first exception of ``types`` in ``e``'s chain: ``e``, then what it was raised from or while handling
    (``__cause__``, else ``__context__``), and so on; None when there is none."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, types):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
