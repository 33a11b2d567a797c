"""The run folder: one per run, every file written atomically (temporary file, fsync, rename).

``runs/<YYYYmmdd-HHMMSS>-<dataset>/`` holds config.toml, history.csv, metrics.json, model.safetensors and
the plots. A crash while writing never leaves a half-written file under its final name, and a failed write
(disk full, file size limit, permissions) raises ``WriteFailed``, an OSError naming the file and the cause,
with the previous file intact and no temporary left behind. ``RunLock`` keeps two processes out of one folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import math
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

WEIGHTS_FORMAT = "mlplab-weights-2"
LOCK = ".lock"
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class WriteFailed(OSError):
    """Writing a run file failed; ``path`` is the file, ``errno`` the cause; the previous file is intact.

    ``str(e)`` is one line, e.g. "no space left on device (or file size limit) writing RUN/checkpoint.safetensors".
    """

    def __init__(self, message: str, *, path: Path | None = None, code: int | None = None):
        super().__init__(message)
        self.message, self.path, self.errno = message, path, code

    def __str__(self) -> str:
        return self.message

    @property
    def no_space(self) -> bool:
        """Whether the disk (or the file size limit, or a quota) was full: freeing space and resuming helps."""
        return self.errno in NO_SPACE


def _cause(error: BaseException) -> tuple[str, int | None]:
    """What went wrong, in words, and the errno when there is one (also from safetensors' "(os error N)")."""
    code = getattr(error, "errno", None) if isinstance(error, OSError) else None
    if code is None:
        found = re.search(r"os error (\d+)", str(error))
        code = int(found.group(1)) if found else None
    if code in NO_SPACE:
        return "no space left on device (or file size limit)", code
    if code is not None:
        return os.strerror(code).lower(), code
    return " ".join(str(error).split())[:200] or type(error).__name__, None


def _is_write_error(error: BaseException) -> bool:
    return isinstance(error, OSError) or "os error" in str(error) or "I/O error" in str(error)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path``, fsync it, then rename it to ``path``.

    Any I/O failure becomes ``WriteFailed`` naming ``path``; ``path`` keeps its previous content.
    """
    path = Path(path)
    tmp = None
    with terminate_raises(path):  # SIGTERM while the temporary exists: removed, then the error
        try:
            remove_dead_temporaries(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
            os.close(fd)
            write(Path(tmp))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp (and safetensors) make 0600; a run's files read like any other
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except Exception as e:
            if not _is_write_error(e):
                raise
            cause, code = _cause(e)
            raise WriteFailed(f"{cause} writing {path}", path=path, code=code) from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
    return path


class Terminated(KeyboardInterrupt):
    """SIGTERM: while a file was being written (``terminate_raises``: the temporary is gone and the old file
    intact), or while a CLI command ran (mlplab.cli.main.terminate_interrupts: stopped as Ctrl-C stops it)."""


def stop_status(stop: KeyboardInterrupt) -> int:
    """The exit status of a command that ``stop`` ended: 143 (128 + SIGTERM) when a SIGTERM raised it (Terminated,
    also under the one-line message that wraps it, runs.failures.Interrupted), else 130 (128 + SIGINT: Ctrl-C)."""
    from mlplab.errors import chained

    return 128 + (signal.SIGTERM if chained(stop, Terminated) else signal.SIGINT)


def importing(frame) -> bool:
    """Whether ``frame`` (a signal handler's) runs inside an import. An exception raised there can land inside a
    C extension's initialisation (matplotlib's ft2font creating its enums), which leaves the interpreter broken:
    the import fails, and Python dies at exit with "Fatal Python error: PyThreadState_Get"."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def after_imports(signum: int, frame) -> bool:
    """In a signal handler: True when ``frame`` is inside an import, after asking for signal ``signum`` again in
    50 ms, so that the handler raises once the import has finished; False when it may raise now."""
    if not importing(frame):
        return False
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()
    return True


@contextlib.contextmanager
def terminate_raises(path: Path):
    """While the block runs (main thread only), SIGTERM raises Terminated instead of ending the process on the
    spot, so ``atomic_write``'s cleanup runs; the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if not after_imports(signum, frame):
            raise Terminated(f"terminated (SIGTERM) while writing {path}; it was left as it was before")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(path: Path) -> None:
    """Remove ``.NAME.PID.*.tmp`` beside ``path`` left by a process that no longer runs (a SIGKILL)."""
    try:
        leftovers = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return
    for tmp in leftovers:
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def finite(obj):
    """``obj`` with every NaN or infinite float replaced by None, so it is standard JSON (null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: str | Path, obj) -> Path:
    """Standard JSON (sorted keys, indented); a non-finite number is written as null, never NaN/Infinity."""
    return write_text(path, json.dumps(finite(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """The model's state_dict as safetensors with digests (tensors only: nothing in it can run code on load)."""
    from mlplab.runs.sealed import seal  # torch: not for the writers that need no weights

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_bytes(path, seal(state, {**(metadata or {}), "format": WEIGHTS_FORMAT}))


def load_weights(model: nn.Module, path: str | Path, config=None) -> nn.Module:
    """Load safetensors weights into ``model``, digests checked; a pickle or a damaged file is refused.

    Files written before digests existed (metadata holding only ``config``) load unchecked. ``config`` (a
    TrainConfig): the weights must have been trained with it (the config saved in their metadata).
    """
    from mlplab.runs.sealed import CorruptFile, unseal

    try:
        state, meta = unseal(path, required=False)
        if "digests" not in meta and not set(meta) <= {"config"}:
            raise CorruptFile(f"{path} is damaged: its metadata keys {sorted(meta)} carry no digests")
    except CorruptFile as e:
        raise ValueError(f"{e}; restore it from a copy or retrain the run") from None
    if config is not None and "config" in meta:
        try:
            trained = json.loads(meta["config"])
        except ValueError:
            trained = None
        given = json.loads(json.dumps(config.to_dict()))
        if trained != given:
            keys = sorted(k for k in set(given) | set(trained or {}) if (trained or {}).get(k) != given.get(k))
            raise ValueError(f"{path} was trained with other settings than the run's config.toml (they differ "
                             f"in {', '.join(keys[:5]) or 'everything'}): the weights belong to another run; "
                             "retrain the run, or copy back its own model.safetensors")
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    extra = [k for k in state if k not in ours]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(ours[k].shape)}" for k in ours
              if k in state and state[k].shape != ours[k].shape]
    if missing or extra or shapes:
        parts = [f"missing {', '.join(missing)}" if missing else "", f"unexpected {', '.join(extra)}" if extra else "",
                 f"shapes differ (file vs model): {'; '.join(shapes)}" if shapes else ""]
        raise ValueError(f"{path} does not fit the model: {'; '.join(p for p in parts if p)}")
    model.load_state_dict(state)
    return model


def check_writable(parent: str | Path) -> Path:
    """``parent`` exists (or can be made) and takes files; else one clear error."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as e:
        raise PermissionError(f"output folder {parent} is not writable ({e.strerror}); "
                              "pass --out FOLDER somewhere you can write") from None
    return parent


@contextlib.contextmanager
def fresh_folders(folder: str | Path):
    """For the block: the folders up to ``folder`` (``--out``) that do not exist yet and the block makes are
    removed if it fails, deepest first, each only when empty, so a failed command leaves no folder that was not
    there before it (a folder that keeps a trained run stays, and so does every folder above it)."""
    folder = Path(folder).absolute()
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]  # deepest first
    try:
        yield
    except BaseException:
        for p in missing:
            try:
                p.rmdir()
            except FileNotFoundError:
                continue  # never made: the block failed before it
            except OSError:
                break  # not empty: what it holds stays, and so do the folders above it
        raise


def new_run_dir(parent: str | Path, dataset: str, stamp: str | None = None) -> Path:
    """Create ``parent/<time>-<dataset>``; a suffix -2, -3, ... keeps runs started the same second apart."""
    parent = check_writable(parent)
    base = f"{stamp or time.strftime('%Y%m%d-%H%M%S')}-{dataset}"
    for i in range(1, 10_000):
        path = parent / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"too many runs named {base} in {parent}")


def not_a_run(folder: str | Path, fix: str) -> FileNotFoundError:
    """The error for a path given as a run folder that holds no config.toml, saying why: it does not exist, it is
    a file, or it is a folder of something else; ``fix`` says what to pass instead."""
    folder = Path(folder)
    why = ("it does not exist" if not os.path.lexists(folder) else
           "it is a file, not a folder" if not folder.is_dir() else "no config.toml in it")
    return FileNotFoundError(f"{folder} is not a run folder ({why}); {fix}")


def remove_stale_temporaries(path: str | Path) -> None:
    """Delete the temporary files a killed ``atomic_write`` left in ``path`` (never a finished file)."""
    for tmp in Path(path).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def remove_run_dir(path: str | Path) -> None:
    """Remove a run folder that ended before its first epoch: only the files a run writes, then the folder."""
    path = Path(path)
    remove_stale_temporaries(path)
    for name in ("config.toml", "history.csv", "checkpoint.safetensors", LOCK):
        (path / name).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        pass  # something else is in it: leave it


class RunLock:
    """``with RunLock(folder):`` holds an exclusive lock (fcntl.flock) on the open folder itself for the block.

    The lock is on the folder's own file descriptor, so removing or replacing any file in it cannot defeat it;
    ``folder/.lock`` only tells a second holder (in this or another process, BlockingIOError) who holds it.
    The lock dies with its process (even under SIGKILL), so a crashed run never leaves its folder locked.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = self.path.read_text(errors="replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise BlockingIOError(f"{self.folder} is in use by process {holder} "
                                  "(another mlplab command on the same run); wait for it to end, or stop "
                                  f"it (kill {holder}) and try again") from None
        self.fd = fd
        try:
            write_text(self.path, f"{os.getpid()}\n")
        except OSError:
            pass  # the note is for people; the lock holds without it (a full disk fails at the next real write)
        except BaseException:  # Ctrl-C or SIGTERM while writing the note: no lock, no note left behind
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # still holding the lock: nobody else writes the note meanwhile
            os.close(self.fd)
            self.fd = None
