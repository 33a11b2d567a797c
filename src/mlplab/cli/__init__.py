"""The command line: a thin layer over the library. ``mlplab COMMAND --help`` for each command."""

from mlplab.cli.main import main

__all__ = ["main"]
