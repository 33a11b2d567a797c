"""The folder of a compare or a cv after a failure: gone when nothing in it trained, else saying what it keeps.

A compare or cv folder holds its own files (compare.json, or cv.json and config.toml) and one run folder per
member or fold. When the command fails (a bad setting met in a member, a full disk, Ctrl-C or SIGTERM),
``unfinished`` removes every member folder that never saved a checkpoint (it holds nothing trained:
``rundir.remove_run_dir``), then every empty folder; when no member folder is left, the command's own files and
the folder go too, so a failure before the first checkpoint leaves nothing behind. Otherwise the folder stays
(its members can be resumed with ``mlplab train --resume``) and the error says how many members finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from mlplab.runs.rundir import WriteFailed, remove_run_dir, remove_stale_temporaries


def remove_unfinished(path: Path, own: tuple[str, ...]) -> bool:
    """Remove every folder below ``path`` that holds no checkpoint (a run's own files, then the folder when it is
    empty), then, when no folder is left, ``own`` files and ``path`` itself. Returns whether ``path`` is gone."""
    for folder in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not (folder / "checkpoint.safetensors").exists():
            remove_run_dir(folder)  # a run's files, then the folder when empty: a member that trained stays
    if any(p.is_dir() for p in path.iterdir()):
        return False
    remove_stale_temporaries(path)
    for name in own:
        (path / name).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        return False  # something else is in it: leave it
    return True


def with_note(error: BaseException, note: str) -> BaseException:
    """``error`` of the same kind with ``; note`` appended (a WriteFailed keeps its file and errno; Ctrl-C or SIGTERM
    becomes runs.failures.Interrupted); an error of any other kind (a bug) is returned as it is."""
    if isinstance(error, WriteFailed):
        return WriteFailed(f"{error}; {note}", path=error.path, code=error.errno)
    from mlplab.errors import NonFiniteLoss
    from mlplab.runs.failures import Interrupted

    if isinstance(error, KeyboardInterrupt):  # Ctrl-C, SIGTERM, or a member's Interrupted
        return Interrupted(f"{str(error) or 'interrupted'}; {note}")
    if type(error) in (ValueError, TypeError, OSError, NonFiniteLoss):
        return type(error)(f"{error}; {note}")
    return error


@contextlib.contextmanager
def unfinished(path: Path, own: tuple[str, ...], note: Callable[[], str], member: str = "member") -> Iterator[None]:
    """On any failure in the block: ``remove_unfinished(path, own)``; when the folder stays, the error ends with
    ``{path} {note()}`` (how many members finished and what to do). ``member``: what a member is called."""
    try:
        yield
    except BaseException as e:
        if remove_unfinished(path, own):
            if isinstance(e, KeyboardInterrupt):  # its words may name a member folder that is gone now
                raise type(e)(f"{'terminated (SIGTERM)' if 'SIGTERM' in str(e) else 'interrupted'} before any "
                              f"{member} saved an epoch; {path} was removed") from None
            raise
        noted = with_note(e, f"{path} {note()}")
        if noted is e:
            raise
        raise noted from None
