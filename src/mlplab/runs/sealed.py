"""Safetensors files sealed with digests: one BLAKE2b digest per tensor and one over the metadata.

``seal(tensors, metadata)`` returns the file's bytes with a ``digests`` entry added to the metadata:
``{"tensors": {name: digest of dtype, shape and raw bytes}, "metadata": digest of the other entries}``.
``unseal(path)`` refuses, naming the file, anything that is not safetensors (a pickle is never unpickled) and
any file whose bytes no longer match its digests: one flipped byte in the header, the metadata or the tensor
data is enough. Files written before digests existed have none; ``unseal(..., required=False)`` accepts them.
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
