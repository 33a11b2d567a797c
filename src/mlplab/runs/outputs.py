"""Where a command may write: every ``--out`` checked before anything is written, written only by rename.

``check_output(path, inputs=..., command=...)`` refuses, in one line (OutputRefused, a ValueError: exit 2):

- the same file as one of the command's inputs (same path, or the same file through ``os.path.samefile``:
  a link, a hard link, ``./x`` and ``x``);
- a path inside a run, compare or cv folder, at any depth (one holding manifest.json, model.safetensors, a
  checkpoint, compare.json, cv.json, or config.toml beside history.csv, data.json or .lock): those folders
  belong to the command that trained them;
- anything that exists and is not a regular file (a folder, /dev/null or another device, a FIFO, a socket);
- an existing file mlplab did not write, unless ``force`` (``--force``).

How a file mlplab wrote is recognised: ``write_output`` sets the extended attribute ``user.mlplab`` (the
command's name) on the temporary file before renaming it into place, so the mark belongs to that inode. A file
edited by another program that writes a new file, copied, or made by hand has no mark; on a filesystem without
user extended attributes nothing has one, and replacing needs ``--force``. Replacement is always a temporary
file beside the target and a rename (``rundir.atomic_write``); a failure or SIGTERM leaves the old file whole
and no temporary behind, and a temporary left by a SIGKILLed process is removed by the next write beside it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

MARK = "user.mlplab"
RUN_FILES = ("manifest.json", "model.safetensors", "checkpoint.safetensors", "compare.json", "cv.json")
# config.toml alone is too common a name (a project's settings); beside one of these it is a run's
WITH_CONFIG = ("history.csv", "data.json", ".lock")
KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


class OutputRefused(ValueError):
    """An output path that would destroy something; the message names it and the way out."""


def run_folder_of(folder: Path) -> str | None:
    """Which run-folder file ``folder`` holds (config.toml, ...), or None when it is no run's folder."""
    found = next((name for name in RUN_FILES if (folder / name).exists()), None)
    if found is None and (folder / "config.toml").exists() and any((folder / n).exists() for n in WITH_CONFIG):
        found = "config.toml"
    return found


def kind_of(path: Path) -> str | None:
    """'a folder', 'a character device', ... for what exists at ``path`` and is not a regular file; else None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a symbolic link to a missing file" if os.path.islink(path) else None
    except NotADirectoryError:
        return "a path through a file (one of its folders is a file)"
    except OSError as e:
        return f"unreadable ({e.strerror})"
    return None if stat.S_ISREG(mode) else KINDS.get(stat.S_IFMT(mode), "not a regular file")


def written_by_mlplab(path: Path) -> bool:
    """Whether the file at ``path`` (not a link's target) carries mlplab's mark."""
    try:
        return bool(os.getxattr(path, MARK, follow_symlinks=False))
    except OSError:
        return False


def same_file(a: Path, b: Path) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def not_in_run_folder(path: Path, flag: str) -> None:
    """Refuse ``path`` inside a run folder, at any depth (``RUN/x.csv``, ``RUN/sub/x.csv``)."""
    for folder in Path(os.path.abspath(path)).parents:
        holds = run_folder_of(folder) if folder.is_dir() else None
        if holds is not None:
            raise OutputRefused(f"{flag} {path} is inside {folder}, a run folder (it holds {holds}); a run's "
                                "files are written only by the command that trains it: write somewhere else")


def check_output(path: str | Path, *, inputs: Iterable[str | Path | None] = (), force: bool = False,
                 flag: str = "--out") -> Path:
    """``path`` when the command may write it; else OutputRefused naming it (see the module docstring)."""
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise OutputRefused(f"{flag} {path} names no file; give a file name, e.g. {path / 'out.csv'}")
    not_in_run_folder(path, flag)
    kind = kind_of(path)
    if kind == "a folder" and run_folder_of(path):
        raise OutputRefused(f"{flag} {path} is a run folder; write somewhere else")
    for given in inputs:
        if given is not None and same_file(path, Path(given)):
            raise OutputRefused(f"{flag} {path} is the same file as the input {given}: writing it would destroy "
                                "the input; write somewhere else")
    if kind == "a folder":
        raise OutputRefused(f"{flag} must name a file; {path} is a folder (try {path / 'out.csv'} or the like)")
    if kind is not None:
        raise OutputRefused(f"{flag} {path} is {kind}, not a regular file; mlplab writes only regular files: "
                            "give a new file name")
    if path.exists() and not force and not written_by_mlplab(path):
        raise OutputRefused(f"{flag} {path} exists and was not written by mlplab; pass --force to replace it, "
                            "or give a new file name")
    return path


def check_output_folder(folder: str | Path, names: Iterable[str], *, inputs: Iterable[str | Path | None] = (),
                        force: bool = False, flag: str = "--out") -> Path:
    """A folder to write ``names`` into: not a run folder, not something other than a folder, each file as
    ``check_output`` would have it."""
    folder = Path(folder)
    holds = run_folder_of(folder) if folder.is_dir() else None
    if holds is not None:
        raise OutputRefused(f"{flag} {folder} is a run folder (it holds {holds}); its files are written only by "
                            f"the command that trains it: give another folder, e.g. {folder.parent / 'evaluation'}")
    not_in_run_folder(folder, flag)
    inputs = list(inputs)
    for given in inputs:
        if given is not None and same_file(folder, Path(given)):
            raise OutputRefused(f"{flag} {folder} is the input {given}; give another folder")
    kind = kind_of(folder)
    if folder.exists() and kind is None:
        kind = "a file"
    if kind is not None and kind != "a folder":
        raise OutputRefused(f"{flag} {folder} is {kind}, not a folder: give a folder to write into")
    for name in names:
        check_output(folder / name, inputs=inputs, force=force, flag=flag)
    return folder


def write_output(path: str | Path, write: Callable[[Path], None], command: str) -> Path:
    """``write(tmp)``, mark ``tmp`` as mlplab's (``command`` wrote it), rename it to ``path`` (atomic_write)."""
    from mlplab.runs.rundir import atomic_write

    def write_and_mark(tmp: Path) -> None:
        write(tmp)
        try:
            os.setxattr(tmp, MARK, command.encode(), follow_symlinks=False)
        except OSError:
            pass  # no user xattrs on this filesystem: replacing this file later needs --force

    return atomic_write(path, write_and_mark)


def mark(path: str | Path, command: str) -> None:
    """Mark a file already written (atomically) at ``path`` as ``command``'s output."""
    try:
        os.setxattr(path, MARK, command.encode(), follow_symlinks=False)
    except OSError:
        pass
