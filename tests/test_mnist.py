"""Local IDX files are MD5-checked against the official digests (cached), unless a modified copy is allowed."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

from mlplab.data import mnist
from mlplab.data.idx import encode_idx
from mlplab.data.mnist import FILES


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(mnist.ALLOW_MODIFIED, raising=False)
    mnist._VERIFIED.clear()


def fake_set(folder):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), (np.arange(20) % 10).astype(np.uint8),
              rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), (np.arange(10) % 10).astype(np.uint8)]
    for name, a in zip(FILES, arrays):
        (folder / name).write_bytes(gzip.compress(encode_idx(a)))
    return folder


def test_a_modified_local_file_is_refused_naming_it_and_the_official_digest(tmp_path):
    folder = fake_set(tmp_path / "data")
    with pytest.raises(ValueError) as e:
        mnist.load_idx_dataset("mnist", folder)
    msg = str(e.value)
    assert str(folder / FILES[0]) in msg and mnist.SOURCES["mnist"].md5[FILES[0]] in msg
    assert mnist.ALLOW_MODIFIED in msg


def test_a_modified_copy_loads_when_allowed_by_argument_or_environment(tmp_path, monkeypatch):
    folder = fake_set(tmp_path / "data")
    assert len(mnist.load_idx_dataset("mnist", folder, allow_modified=True)[0]) == 20
    monkeypatch.setenv(mnist.ALLOW_MODIFIED, "1")
    assert len(mnist.load_idx_dataset("mnist", folder)[2]) == 10
    with pytest.raises(ValueError, match="MD5"):
        mnist.load_idx_dataset("mnist", folder, allow_modified=False)


def test_digests_are_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    folder = fake_set(tmp_path / "data")
    calls = []
    real = mnist.md5sum
    monkeypatch.setattr(mnist, "md5sum", lambda p: calls.append(p.name) or real(p))
    source = mnist.Source(mirrors=(), md5={f: real(folder / f) for f in FILES}, class_names=tuple("abcdefghij"))
    mnist.load_idx_dataset("mnist", folder, source=source)
    assert sorted(calls) == sorted(FILES)
    mnist._VERIFIED.clear()  # a new process: only the file on disk remembers
    mnist.load_idx_dataset("mnist", folder, source=source)
    assert len(calls) == 4
    cache = json.loads(mnist.digest_cache().read_text())
    assert len(cache) == 4 and all(v in source.md5.values() for v in cache.values())
    os.utime(folder / FILES[1], ns=(1, 1))  # touched: computed again
    mnist.load_idx_dataset("mnist", folder, source=source)
    assert calls[4:] == [FILES[1]] and len(json.loads(mnist.digest_cache().read_text())) == 4


def test_the_real_fashion_mnist_files_pass(fashion_dir):
    x_tr, y_tr, x_te, y_te = mnist.load_idx_dataset("fashion-mnist", fashion_dir)
    assert x_tr.shape == (60000, 28, 28) and x_te.shape == (10000, 28, 28)
