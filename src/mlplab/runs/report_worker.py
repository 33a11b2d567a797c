"""A table run's report made in a second process while the net trains: the baselines and the figures.

scikit-learn's import (1.4 s with the scipy.stats it pulls in) and matplotlib's (0.5 s) are each longer than a
small table's whole training, and the linear model and HGB fit on one core while torch trains on another. So a
table run starts this worker early (``prewarm``: the CLI does, before torch loads), which imports both and
waits; ``start`` hands it the encoded training and test rows (mlplab.runs.baselines.inputs) as training starts;
after training ``draw`` hands it the run folder's figures (mlplab.runs.run.figure_jobs), which it draws while
the run writes its other files; ``baselines`` and ``drawn`` read what it did. It runs ``baselines.fit`` on
exactly the arrays an in-process ``fit_baselines`` takes, so the numbers are the same
(tests/test_report_worker.py), with one OpenMP thread: the net keeps the rest.

Nothing outlives the process: a worker is ended when its run fails or is interrupted; one whose run ended well
serves the process's next run (compare members, cv folds, tune trials) and is ended when the process exits;
it also exits by itself when its parent closes the pipe or dies.

    python -m mlplab.runs.report_worker [--draw-only]

Messages in (``write_message``): a JSON line ``{"kind": "baselines" | "draw", "meta": ..., "arrays": [names]}``
and each array in .npy format, never a pickle; an answer out: one JSON line each.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path


class WorkerLost(RuntimeError):
    """The worker process ended before it answered (killed, out of memory, a Python that cannot start it)."""


class InProcess:
    """The report made in this process: what a run falls back to when no worker process can be started, or when
    its worker ends before it answers (``Worker`` sends the same work away and keeps it here for that case)."""

    def __init__(self):
        self.given, self.jobs = None, None

    def fit(self, given: dict) -> None:
        self.given = given

    def draw(self, jobs: list) -> None:
        self.jobs = jobs

    def baselines(self) -> dict:
        from mlplab.runs.baselines import fit

        return fit(self.given)

    def drawn(self) -> None:
        from mlplab.plots import figures

        figures.draw(self.jobs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class Worker(InProcess):
    """One worker process. Messages go in order, from a thread (the pipe takes the rows while training runs);
    each gets one JSON line back, read in the same order."""

    def __init__(self, fits: bool = True):
        import mlplab

        here = str(Path(mlplab.__file__).resolve().parents[1])  # this mlplab, installed or only on sys.path
        path = os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])
        env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        self.fits = fits                   # whether it loads scikit-learn (else it only draws)
        self.log = tempfile.TemporaryFile()  # its stderr (scikit-learn's warnings): a pipe nobody reads would fill
        self.proc = subprocess.Popen([sys.executable, "-m", "mlplab.runs.report_worker",
                                      *([] if fits else ["--draw-only"])], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.owner = os.getpid()           # a forked child (a compare or tune worker) starts its own
        self.writer: threading.Thread | None = None
        self.decision: dict | None = None  # the baselines' when there was nothing to fit
        self.pending = 0                   # messages sent whose answer is not read yet
        self.said = False                  # whether the note that the work is done here was printed
        super().__init__()                 # what was sent: done here if the worker ends

    def send(self, kind: str, payload) -> None:
        if self.writer is not None:
            self.writer.join()
        self.pending += 1

        def write():
            try:
                write_message(self.proc.stdin, kind, payload)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):  # the worker ended first: reading its answer says why
                pass

        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def fit(self, given: dict) -> None:
        """The baselines of ``baselines.inputs``' dict; one without arrays (nothing to fit) is its own answer."""
        super().fit(given)
        self.decision = None
        if "x" in given:
            self.send("baselines", given)
        else:
            self.decision = given

    def draw(self, jobs: list) -> None:
        """Draw ``figure_jobs``' figures (files written atomically, as every run file)."""
        super().draw(jobs)
        self.send("draw", {"jobs": [[name, [encode(a) for a in args], os.path.abspath(path)]  # its cwd may differ
                                    for name, args, path in jobs]})

    def answer(self) -> dict:
        if self.writer is not None:
            self.writer.join()
        line = self.proc.stdout.readline()
        self.pending -= 1
        if not line:
            self.proc.wait()
            self.log.seek(0)
            err = self.log.read().decode(errors="replace").strip().splitlines()
            raise WorkerLost(f"mlplab's report worker process ended ({err[-1] if err else self.proc.returncode})")
        return json.loads(line)

    def lost(self, e: WorkerLost) -> None:
        """Say once that the worker's work is done here instead."""
        if not self.said:
            self.said = True
            print(f"mlplab: note: {e}; its baselines and figures are made in this process instead", file=sys.stderr)

    def baselines(self) -> dict:
        """``{"decision", "rows", "models"}`` as ``baselines.fit`` gives it; waits for the fit (made here if the
        worker ended: a run never fails for want of its report)."""
        if self.decision is not None:
            return self.decision
        try:
            return self.answer()
        except WorkerLost as e:
            self.lost(e)
            return super().baselines()

    def drawn(self) -> None:
        """Wait for ``draw``'s figures (drawn here if the worker ended); a failed write is raised here as the
        WriteFailed naming its file."""
        from mlplab.runs.rundir import WriteFailed

        try:
            out = self.answer()
        except WorkerLost as e:
            self.lost(e)
            super().drawn()
            return
        if "error" in out:
            raise WriteFailed(out["error"], path=Path(out["path"]), code=out["errno"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.log):
            try:
                stream.close()
            except (BrokenPipeError, ValueError):
                pass

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        """A worker whose run ended well, every answer read, waits for the next run of this process (compare
        members, cv folds, tune trials: scikit-learn loads once); else it is ended."""
        global _warm
        if kind is None and self.pending == 0 and self.proc.poll() is None and _warm is None:
            _warm = self
        else:
            self.close()


_warm: Worker | None = None


def prewarm(fits: bool = True) -> None:
    """Start a worker now, so its imports run while the caller imports torch and reads its data (one left
    unused is ended when this process exits). ``fits``: it will fit baselines (else it only draws)."""
    global _warm
    if _warm is None:
        try:
            _warm = Worker(fits)
        except OSError:  # start() tries again, or works in-process
            return


@atexit.register
def _end_warm() -> None:
    if _warm is not None and _warm.owner == os.getpid():
        _warm.close()


def start(data, choice: str, seed: int) -> InProcess:
    """A worker (the pre-warmed one, else a new one) fitting the baselines of ``data`` (a table Dataset) as
    ``choice`` (config.baselines) says: with ``none`` it only draws."""
    from mlplab.runs.baselines import inputs

    global _warm
    if _warm is not None and _warm.owner != os.getpid():  # the parent's, inherited by a fork: not ours to use
        _warm = None
    fits = choice != "none"
    if _warm is not None and fits and not _warm.fits:  # one that only draws cannot fit
        _warm.close()
        _warm = None
    try:
        worker, _warm = _warm or Worker(fits), None
    except OSError:
        worker = InProcess()
    worker.fit(inputs(data, choice=choice, seed=seed))
    return worker


class _Stream:
    """``stream``'s read and write alone, so numpy's .npy functions take the path for any stream, not the one
    for real files, which seeks (a pipe cannot)."""

    def __init__(self, stream):
        self.read, self.write = getattr(stream, "read", None), getattr(stream, "write", None)


def write_message(stream, kind: str, payload: dict) -> None:
    """``payload``'s numpy arrays in .npy format after a JSON line of everything else."""
    import numpy as np

    arrays = [k for k, v in payload.items() if isinstance(v, np.ndarray)]
    meta = {k: v for k, v in payload.items() if k not in arrays}
    stream.write((json.dumps({"kind": kind, "meta": meta, "arrays": arrays}) + "\n").encode())
    for name in arrays:
        np.lib.format.write_array(_Stream(stream), np.ascontiguousarray(payload[name]), allow_pickle=False)


def read_message(stream) -> tuple[str, dict] | None:
    """``write_message``'s (kind, payload); None at the end of the stream."""
    import numpy as np

    line = stream.readline()
    if not line:
        return None
    head = json.loads(line)
    payload = dict(head["meta"])
    for name in head["arrays"]:
        payload[name] = np.lib.format.read_array(_Stream(stream), allow_pickle=False)
    return head["kind"], payload


def encode(arg):
    """A figure function's argument as JSON: a History as its fields."""
    from mlplab.training.history import History

    return {"history": dataclasses.asdict(arg)} if isinstance(arg, History) else arg


def decode(arg):
    from mlplab.training.history import History

    return History(**arg["history"]) if isinstance(arg, dict) and set(arg) == {"history"} else arg


def draw_at_once(jobs: list) -> dict:
    """Draw each figure in a forked copy of this worker (matplotlib loaded, no threads), all at the same time:
    the run waits for the slowest figure, not for their sum. ``{}``, or the first failed write as
    ``{"error", "path", "errno"}``; any other failure ends the worker (the run says so)."""
    from mlplab.plots import figures
    from mlplab.runs.rundir import WriteFailed

    def failure(e: WriteFailed) -> dict:
        return {"error": str(e), "path": str(e.path), "errno": e.errno}

    children = []
    for job in jobs[1:] if hasattr(os, "fork") else []:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one figure, its answer on the pipe, then gone without running any cleanup
            os.close(read)
            code = 1
            try:
                figures.draw([job])
                code = 0
            except WriteFailed as e:
                os.write(write, json.dumps(failure(e)).encode())
                code = 0
            except BaseException as e:  # noqa: BLE001 (said on the pipe; the parent raises it)
                os.write(write, json.dumps({"crash": f"{type(e).__name__}: {e}"}).encode())
            finally:
                os._exit(code)
        os.close(write)
        children.append((pid, read))
    out = {}
    try:
        figures.draw(jobs[:1] if children else jobs)
    except WriteFailed as e:
        out = failure(e)
    for pid, read in children:
        with os.fdopen(read, "rb") as f:
            said = f.read()
        os.waitpid(pid, 0)
        answer = json.loads(said) if said else {}
        if "crash" in answer:
            raise RuntimeError(f"drawing a figure failed: {answer['crash']}")
        out = out or answer
    return out


def main() -> int:
    from mlplab.plots import figures  # noqa: F401 (matplotlib's import, before the figures are asked for)
    from mlplab.runs.baselines import fit, models

    if "--draw-only" not in sys.argv:
        models("binary", 0)  # scikit-learn's import, and matplotlib's above, before the parent's rows arrive
    while True:
        message = read_message(sys.stdin.buffer)
        if message is None:  # the parent is done with this worker (or gone)
            return 0
        kind, payload = message
        if kind == "baselines":
            out = fit(payload)
        else:
            out = draw_at_once([(name, [decode(a) for a in args], Path(path)) for name, args, path in payload["jobs"]])
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
