"""The errors a run reports to its user as one line (the CLI's exit code 2), beside ValueError and TypeError.

A leaf: the CLI catches them without importing torch.
"""


class NonFiniteLoss(ArithmeticError):
    """The training (or validation/test) loss became NaN or infinite."""
