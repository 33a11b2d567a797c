"""Safetensors files sealed with digests: one BLAKE2b digest per tensor and one over the metadata.

``seal(tensors, metadata)`` returns the file's bytes with a ``digests`` entry added to the metadata:
``{"tensors": {name: digest of dtype, shape and raw bytes}, "metadata": digest of the other entries}``.
``unseal(path)`` refuses, naming the file, anything that is not safetensors (a pickle is never unpickled) and
any file whose bytes no longer match its digests: one flipped byte in the header, the metadata or the tensor
data is enough. Files written before digests existed have none; ``unseal(..., required=False)`` accepts them.

A run folder is sealed as one whole by manifest.json (``manifest_bytes`` / ``check_folder``): the BLAKE2b
digest of every file ``load_run`` reads, so an edited config.toml, a data.json with its classes reversed or
another run's weights of the same shape are refused by name. The digests are not signatures: they catch
accidents, bit rot and files mixed from different runs, not someone who rewrites the manifest on purpose.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load, save
from torch import Tensor

DIGESTS = "digests"


class CorruptFile(ValueError):
    """A file that is not a (whole, unmodified) mlplab safetensors file; the message names it."""


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def tensor_digest(t: Tensor) -> str:
    """The digest of ``t``'s dtype, shape and raw little-endian bytes (as safetensors stores them)."""
    t = t.detach().cpu().contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    return _digest(f"{t.dtype}{tuple(t.shape)}".encode(), raw)


def metadata_digest(metadata: dict[str, str]) -> str:
    body = {k: v for k, v in metadata.items() if k != DIGESTS}
    return _digest(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())


def seal(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` with ``metadata`` and the digests of both."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = dict(metadata or {})
    metadata[DIGESTS] = json.dumps({"tensors": {k: tensor_digest(v) for k, v in sorted(tensors.items())},
                                    "metadata": metadata_digest(metadata)}, sort_keys=True)
    return save(tensors, metadata=metadata)


def _header(raw: bytes) -> dict:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n])


def unseal(path: str | Path, *, required: bool = True) -> tuple[dict[str, Tensor], dict[str, str]]:
    """(tensors, metadata) of the safetensors file ``path``, its digests checked.

    Raises CorruptFile (a ValueError) naming ``path`` when the file is not safetensors, when a digest does not
    match, or when digests are missing and ``required``; OSError when it cannot be read.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        metadata = _header(raw).get("__metadata__") or {}
        if not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("metadata values are not strings")
    except Exception as e:  # safetensors' own error type, or a header that is not JSON
        raise CorruptFile(f"{path} is not a safetensors file ({' '.join(str(e).split())[:200]}); mlplab never "
                          "unpickles files") from None
    if DIGESTS not in metadata:
        if required:
            raise CorruptFile(f"{path} is damaged or not written by mlplab: it carries no digests")
        return tensors, metadata
    try:
        digests = json.loads(metadata[DIGESTS])
        expected, meta_expected = dict(digests["tensors"]), digests["metadata"]
    except (ValueError, TypeError, KeyError) as e:
        raise CorruptFile(f"{path} is corrupt: its digests entry does not parse ({e})") from None
    if meta_expected != metadata_digest(metadata):
        raise CorruptFile(f"{path} is corrupt: its metadata does not match the digest stored with it")
    if sorted(expected) != sorted(tensors):
        raise CorruptFile(f"{path} is corrupt: its tensor names differ from the ones it was written with")
    bad = [k for k in sorted(tensors) if tensor_digest(tensors[k]) != expected[k]]
    if bad:
        raise CorruptFile(f"{path} is corrupt: the bytes of tensor(s) {', '.join(bad[:3])} do not match their "
                          "digests")
    return tensors, metadata


# ---- the run folder as one sealed whole ------------------------------------------------------------------

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "mlplab-manifest-1"
# Every file load_run reads. Not listed: files for people (metrics.md, columns.md, PNGs) and the checkpoint,
# which is sealed by itself, rewritten every epoch, and tied to config.toml when a run resumes.
SEALED = ("config.toml", "data.json", "model.safetensors", "preprocessing.safetensors", "metrics.json", "history.csv")


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_bytes(folder: str | Path) -> bytes:
    """manifest.json's bytes for ``folder``: the digest of each SEALED file present, and one over them all."""
    folder = Path(folder)
    files = {name: file_digest(folder / name) for name in SEALED if (folder / name).is_file()}
    body = json.dumps(files, sort_keys=True)
    return (json.dumps({"format": MANIFEST_FORMAT, "files": files, "digest": _digest(body.encode())},
                       indent=2, sort_keys=True) + "\n").encode()


def check_folder(folder: str | Path) -> None:
    """Refuse (CorruptFile naming the file) a run folder whose files are not the ones it was written with.

    Every SEALED file present must be listed in manifest.json with its digest, every listed file must be
    there, and the manifest must match its own digest. One changed byte anywhere is refused.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    fix = "retrain the run (mlplab train --config RUN/config.toml), or restore the folder from a copy"
    if not path.is_file():
        raise CorruptFile(f"{folder} has no {MANIFEST}: it was written by an older mlplab, or its training has not "
                          f"finished (then finish it: mlplab train --resume {folder}); otherwise {fix}")
    try:
        manifest = json.loads(path.read_bytes())
        files, digest = manifest["files"], manifest["digest"]
        ok = manifest["format"] == MANIFEST_FORMAT and isinstance(files, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        ok = False
    if not ok or digest != _digest(json.dumps(files, sort_keys=True).encode()):
        raise CorruptFile(f"{path} is damaged (it does not match its own digest); {fix}")
    for name in SEALED:
        there = (folder / name).is_file()
        if name not in files and there:
            raise CorruptFile(f"{folder / name} is not in {path}: it was added after the run was written; "
                              f"remove it or {fix}")
        if name in files and not there:
            raise CorruptFile(f"{folder / name} is missing (the run was written with it); {fix}")
        if there and file_digest(folder / name) != files[name]:
            raise CorruptFile(f"{folder / name} was changed after the run was written (it does not match "
                              f"{MANIFEST}); mlplab will not predict with a run whose files disagree: restore the "
                              f"file, or {fix}")
