"""Where a study's trials live (a tune's, a spread compare's or cv's): a journal file, SQLite or PostgreSQL; faults.

``--storage`` takes ``journal:PATH`` (the default, ``DIR/journal.log``: embedded, append-only, so a
``kill -9`` loses at most the trial in progress) or an SQLAlchemy URL: ``sqlite:///FILE`` (one machine, few
writers: SQLite locks under many) or ``postgresql://USER@HOST:PORT/DB`` (workers on many machines join the
same study). Journal files over NFS are a known pitfall (Optuna's docs); use PostgreSQL across machines.

A worker that dies mid-trial (``kill -9``, a lost machine) leaves a trial RUNNING. On a database each worker
beats a heartbeat; a trial silent for three beats is failed and retried once (Optuna's
RetryHeartbeatStaleTrialCallback). In a journal each trial records its host and process, and a trial whose
process on this host is gone is failed and queued once more. A storage that goes away mid-study is
``StorageLost``: one line, exit 2, and the finished trials stay in it.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

from mlplab.runs.rundir import alive

FINISHED = ("COMPLETE", "PRUNED")
ACTIVE = ("RUNNING", "WAITING")
FORMS = "journal:PATH, sqlite:///FILE or postgresql://USER@HOST:PORT/DB"


class StorageLost(OSError):
    """The study's storage could not be reached or went away; the trials it holds stay there."""


def storage_spec(spec: str | None, folder: Path) -> str:
    """``--storage`` as given, or the default journal file inside the tune folder; checked for its form."""
    if spec is None:
        return f"journal:{folder / 'journal.log'}"
    if spec.startswith("journal:") and spec.removeprefix("journal:").strip():
        return spec
    if spec.startswith(("sqlite:///", "postgresql://", "postgresql+")):
        return spec
    raise ValueError(f"--storage must be {FORMS}; got {spec!r}")


def shown(spec: str) -> str:
    """The storage without its password, to print and record."""
    if spec.startswith("journal:"):
        return spec
    from sqlalchemy.engine import make_url

    return make_url(spec).render_as_string(hide_password=True)


def is_journal(spec: str) -> bool:
    return spec.startswith("journal:")


def open_storage(spec: str, heartbeat: float):
    """The Optuna storage for ``spec``; StorageLost when a database cannot be reached."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

    if is_journal(spec):
        path = Path(spec.removeprefix("journal:")).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(journal_file(path))
    connect = {"connect_timeout": 10} if spec.startswith("postgresql") else {}
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5; it is what we rely on
            warnings.simplefilter("ignore")
            return RDBStorage(spec, heartbeat_interval=max(1, round(heartbeat)),
                              grace_period=max(3, round(3 * heartbeat)),
                              heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                              engine_kwargs={"pool_pre_ping": True, "connect_args": connect})
    except ImportError:
        raise ValueError(f"no database driver for {shown(spec)}: pip install 'mlplab[tune]' (psycopg for "
                         "PostgreSQL)") from None
    except Exception as e:
        if is_storage_error(e) or isinstance(e, optuna.exceptions.StorageInternalError):
            raise lost(spec, e, reach=True) from None
        raise


def journal_file(path: Path):
    """Optuna's journal file backend, whose appends are whole lines or nothing: a failed one (a full disk) is cut
    back to where it began, then WriteFailed naming the file (a cut last line would make the next append glue
    onto it, and the journal unreadable); a journal that stayed empty is removed (no 0-byte file is left)."""
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    from mlplab.runs.rundir import NO_SPACE, WriteFailed

    lock = JournalFileSymlinkLock(str(path))  # Optuna's default: what its own appends to the file take

    class Journal(JournalFileBackend):
        def append_logs(self, logs) -> None:
            lines = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
            try:
                lock.acquire()
                try:
                    append_whole(path, lines)
                finally:
                    lock.release()
            except OSError as e:
                if path.is_file() and path.stat().st_size == 0:
                    path.unlink(missing_ok=True)
                cause = "no space left on device (or file size limit)" if e.errno in NO_SPACE else (
                    e.strerror or str(e)).lower()
                raise WriteFailed(f"{cause} writing the study's journal {path}; its finished trials stay in it: "
                                  "free space, then run the same command again", path=path, code=e.errno) from None

    return Journal(str(path), lock)


def append_whole(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and fsync it; on any failure or interruption the file is cut back to its
    length before."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        end = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:  # a full disk, or a signal between two writes
            os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)


def is_storage_error(e: BaseException) -> bool:
    """An error of the database underneath (connection refused, server gone), not of mlplab or the objective,
    also when it surfaces as another error that met it (Optuna 5.1 raises UnboundLocalError when the database
    goes away while it records a trial's end)."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from mlplab.errors import chained

    return chained(e, (SQLAlchemyError, optuna.exceptions.StorageInternalError)) is not None


def failure(spec: str, e: Exception) -> Exception:
    """What a study's command raises for ``e``, met while it used the study: StorageLost for an error of the
    database, the journal's WriteFailed where Optuna 5.1 hid it (AssertionError "Should not reach." when
    recording a trial's end fails), else ``e`` itself."""
    from mlplab.errors import chained
    from mlplab.runs.rundir import WriteFailed

    if is_storage_error(e):
        return lost(spec, e)
    return chained(e, WriteFailed) or e


def _root(e: BaseException) -> BaseException:
    """The first database error in ``e``'s chain (its driver's message is the one that says what happened)."""
    from sqlalchemy.exc import SQLAlchemyError

    while e.__cause__ or e.__context__:
        if isinstance(e, SQLAlchemyError):
            return e
        e = e.__cause__ or e.__context__
    return e


def lost(spec: str, e: BaseException, reach: bool = False) -> StorageLost:
    e = _root(e)
    cause = " ".join(str(getattr(e, "orig", None) or e).split())[:200]
    if reach:
        return StorageLost(f"cannot reach the study's storage {shown(spec)} ({cause}); start the database or fix "
                           "--storage, then run the same command again")
    return StorageLost(f"lost the study's storage {shown(spec)} ({cause}); its finished trials stay there: run the "
                       "same command again once it is back, and the study continues")


def counts(study) -> dict[str, int]:
    """How many trials are in each state: ``{"COMPLETE": 7, "RUNNING": 2, ...}``."""
    found: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        found[t.state.name] = found.get(t.state.name, 0) + 1
    return found


def mark_self(trial) -> None:
    """Record where a trial runs, so a journal study can tell when its process died."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


def fail_dead(study, spec: str) -> list[int]:
    """Fail the study's running trials whose worker is gone, each queued once more; the numbers failed.

    A database: Optuna's heartbeat check and retry callback. A journal: trials started by a process on this
    host that no longer exists.
    """
    import optuna
    from optuna.trial import TrialState

    if not is_journal(spec):
        with warnings.catch_warnings():  # "experimental" since Optuna 2.9
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)
        return []
    failed = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") == host and isinstance(pid, int) and not alive(pid):
            if study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL):  # no public API for this
                failed.append(t.number)
                if "retry_of" not in t.user_attrs:  # retried once, as on a database
                    queued = {k: v for k, v in t.user_attrs.items() if k == "queued"}  # a grid member's mark
                    study.enqueue_trial(t.params, user_attrs={**queued, "retry_of": t.number}, skip_if_exists=False)
    return failed




def check_same(study, record: dict, name: str, spec: str) -> None:
    """A study joined again must be the same search: the same base keys, space and metric (``record``)."""
    found = study.user_attrs.get("mlplab")
    if found is None:
        study.set_user_attr("mlplab", record)
        return
    mine = json.loads(json.dumps(record))
    for key in mine:
        then, now = found.get(key), mine[key]
        if then != now:
            if isinstance(then, dict) and isinstance(now, dict):  # name the entries that differ
                names = sorted(k for k in then.keys() | now.keys() if then.get(k) != now.get(k))
                then, now = ({k: d.get(k) for k in names} for d in (then, now))
            raise ValueError(f"study {name!r} in {shown(spec)} was started with another {key} ({then}; now "
                             f"{now}); run the command it was started with, or start a new one with --study NAME "
                             "(or another --out)")
