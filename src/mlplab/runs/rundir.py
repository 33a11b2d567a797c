"""The run folder: one per run, every file written atomically (temporary file, fsync, rename).

``runs/<YYYYmmdd-HHMMSS>-<dataset>/`` holds config.toml, history.csv, metrics.json, model.safetensors and
the plots. A crash while writing never leaves a half-written file under its final name.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path``, fsync it, then rename it to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run's files should read like any other file
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def write_json(path: str | Path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """The model's state_dict as safetensors (tensors only: nothing in it can run code on load)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda p: save_file(state, str(p), metadata=metadata))


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load safetensors weights into ``model``; anything else (a pickle, say) is refused, never unpickled."""
    try:
        state = load_file(str(path))
    except OSError:
        raise
    except Exception as e:  # safetensors' own error type: not a safetensors file
        raise ValueError(f"{path} is not a safetensors file ({e}); mlplab never unpickles files") from None
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


def remove_stale_temporaries(path: str | Path) -> None:
    """Delete the temporary files a killed ``atomic_write`` left in ``path`` (never a finished file)."""
    for tmp in Path(path).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def remove_run_dir(path: str | Path) -> None:
    """Remove a run folder that ended before its first epoch: only the files a run writes, then the folder."""
    path = Path(path)
    remove_stale_temporaries(path)
    for name in ("config.toml", "history.csv", "checkpoint.safetensors"):
        (path / name).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        pass  # something else is in it: leave it
