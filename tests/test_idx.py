"""The IDX reader on files the tests write: round trips, gzip and raw, and every kind of damage."""

import gzip
import struct

import numpy as np
import pytest

from mlplab.data.idx import encode_idx, parse_idx, read_idx, write_idx


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((5, 7, 3)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"x-idx3-ubyte{suffix}", a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_header_layout_matches_the_spec():
    raw = encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert raw[:4] == b"\x00\x00\x08\x02"                # zero, zero, uint8, 2 dims
    assert struct.unpack(">II", raw[4:12]) == (2, 3)     # big-endian dimensions
    assert raw[12:] == bytes(range(6))


def test_labels_file_is_one_dimensional(tmp_path):
    y = np.array([9, 0, 0, 3], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "labels-idx1-ubyte.gz", y)), y)


GOOD = encode_idx(np.zeros((4, 2, 2), dtype=np.uint8))


@pytest.mark.parametrize("raw, message", [
    (GOOD[:-1], "truncated"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD + b"\x00", "longer than its header"),
    (b"\x01\x00" + GOOD[2:], "magic"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "magic"),            # unknown type code
    (GOOD[:3] + b"\x00" + GOOD[4:], "magic"),            # zero dimensions
    (b"\x00\x00", "not an IDX file"),
    (b"", "not an IDX file"),
])
def test_damage_is_named(raw, message):
    with pytest.raises(ValueError, match=message) as e:
        parse_idx(raw, "broken-file")
    assert "broken-file" in str(e.value) and "re-download" in str(e.value)


def test_corrupt_gzip_is_a_value_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(GOOD)[:-12])          # cut off the gzip trailer and part of the data
    with pytest.raises(ValueError, match="corrupt gzip"):
        read_idx(path)
