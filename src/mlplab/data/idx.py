"""The IDX file format of MNIST and Fashion-MNIST: read (gzip or raw) with every header field checked, and write.

Layout: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then each dimension as a
big-endian uint32, then the data. ``train-images-idx3-ubyte`` is (60000, 28, 28) uint8; labels are (60000,).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array; anything malformed raises ValueError naming ``name`` and the fault."""
    if len(raw) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(raw)} bytes); re-download it")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in DTYPES or ndim == 0:
        raise ValueError(f"{name}: bad IDX magic number 0x{raw[:4].hex()}; the file is corrupt, re-download it")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header; the file is corrupt, re-download it")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"{name}: {what}: header says {shape} = {expected} data bytes, found {got}; "
                         "re-download it")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``, detected by its magic bytes) or raw."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt gzip data ({e}); delete it and re-download") from None
    return parse_idx(raw, str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes for ``array`` (uint8, int8, int16, int32, float32 or float64)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX has no type code for dtype {array.dtype}; use uint8, int8, int16, int32 or float")
    head = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as IDX, gzip-compressed when ``path`` ends in ``.gz``."""
    path = Path(path)
    data = encode_idx(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path
