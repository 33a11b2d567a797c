"""``mlplab``'s entry point: one subcommand per module in this package, and one error path.

A user mistake (ValueError, TypeError, OSError from the library, a bad flag) prints one line on stderr and
exits 2; nothing is written before the inputs are checked. Set MLPLAB_DEBUG=1 for the traceback. Ctrl-C and
SIGTERM stop a command the same way: one line saying what was kept; exit 130 after Ctrl-C, 143 after SIGTERM
(128 + the signal's number, as a shell reports them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

# Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = [
    "mlplab.cli.train",
    "mlplab.cli.predict",
    "mlplab.cli.evaluate",
    "mlplab.cli.summary",
    "mlplab.cli.compare",
    "mlplab.cli.cv",
    "mlplab.cli.tune",
    "mlplab.cli.recipe",
    "mlplab.cli.losses",
    "mlplab.cli.plot",
    "mlplab.cli.export",
]


class UsageError(Exception):
    """A bad command line; reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; one clear line is friendlier
        from mlplab.cli.flags import with_suggestion  # "invalid choice: 'scrach'" -> did you mean 'scratch'?

        raise UsageError(f"{self.prog}: {with_suggestion(message)} (see {self.prog} --help)")


def build_parser() -> Parser:
    from mlplab import __version__

    parser = Parser(prog="mlplab", description="Build, train, inspect and compare neural networks (MLPs, CNNs, "
                    "RNN/LSTMs, your own modules) on datasets or your own tables; every piece also from scratch.")
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module_name in COMMANDS:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from mlplab.errors import NonFiniteLoss

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # an unknown flag (did you mean?) or a list given with spaces (lists take commas)
            from mlplab.cli.flags import unrecognized

            raise UsageError(unrecognized(parser, args.command, extra, sys.argv[1:] if argv is None else argv))
        if args.command is None:
            parser.print_help()
            return 2
        with terminate_interrupts():
            return args.run(args)
    except (UsageError, ValueError, TypeError, OSError, NonFiniteLoss) as e:
        if os.environ.get("MLPLAB_DEBUG"):
            raise
        message = str(e) if isinstance(e, UsageError) else f"mlplab: error: {e}"
        print(" ".join(message.split()), file=sys.stderr)  # one line, whatever the message held
        return 2
    except KeyboardInterrupt as e:  # mlplab's own (Interrupted) say where the run stands and how to continue it
        from mlplab.runs.rundir import stop_status

        print(f"mlplab: {' '.join(str(e).split())}" if str(e) else "mlplab: interrupted", file=sys.stderr)
        return stop_status(e)


def command() -> None:
    """The ``mlplab`` executable: ``main()``, then the process ends without Python's teardown of every module
    (0.6 s after a table run, half a second of it torch's; benchmarks/RESULTS.md). What has to happen at exit
    still does: the atexit functions run (the report worker ended, temporary folders removed) and the standard
    streams are flushed. A command that leaves a thread running ends the usual way, waiting for it."""
    import atexit

    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (mlplab ... | head): nothing more can reach it
            pass
    os._exit(code)


@contextlib.contextmanager
def terminate_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM raises rundir.Terminated (a KeyboardInterrupt) as Ctrl-C would, instead of
    ending the process where it stands: temporaries are removed, a run folder says how to resume it, a compare or
    cv folder where nothing trained is removed, and the command exits 143 (Ctrl-C: 130) with one line. Either
    signal waits for an import under way to finish (rundir.importing says why). Main thread only."""
    from mlplab.runs.rundir import Terminated, after_imports

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if not after_imports(signum, frame):
            raise Terminated("terminated (SIGTERM)") if signum == signal.SIGTERM else KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
