"""The download path without network: file:// mirrors holding IDX files the tests write."""

import hashlib
import os

import numpy as np
import pytest

from mlplab.data import mnist
from mlplab.data.idx import write_idx


def make_mirror(folder, n_train=30, n_test=10):
    """Write the four .gz files of a tiny MNIST-shaped set; return a Source whose MD5s match."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }
    md5 = {name: hashlib.md5(write_idx(folder / name, a).read_bytes()).hexdigest() for name, a in arrays.items()}
    source = mnist.Source(mirrors=(folder.as_uri() + "/",), md5=md5, class_names=tuple("abcdefghij"))
    return source, arrays


def test_official_sources_are_kept():
    fm = mnist.SOURCES["fashion-mnist"]
    assert fm.mirrors[0].startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com")
    assert fm.md5["train-images-idx3-ubyte.gz"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert fm.md5["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    assert fm.class_names[0] == "t-shirt/top" and fm.class_names[9] == "ankle boot"
    assert mnist.SOURCES["mnist"].md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def test_download_verifies_and_loads(tmp_path):
    source, arrays = make_mirror(tmp_path / "mirror")
    dest = tmp_path / "cache"
    x_tr, y_tr, x_te, y_te = mnist.load_idx_dataset("mnist", dest, source=source)
    np.testing.assert_array_equal(x_tr, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_te, arrays["t10k-labels-idx1-ubyte.gz"])
    assert sorted(p.name for p in dest.iterdir()) == sorted(mnist.FILES)   # no .part files left behind


def test_md5_mismatch_keeps_nothing(tmp_path):
    source, _ = make_mirror(tmp_path / "mirror")
    bad = mnist.Source(source.mirrors, {**source.md5, "train-images-idx3-ubyte.gz": "0" * 32}, source.class_names)
    with pytest.raises(ValueError, match="MD5 mismatch"):
        mnist.ensure_files("mnist", tmp_path / "cache", bad)
    assert not (tmp_path / "cache" / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("train-images")]


def test_unreachable_mirror_says_which_files_to_put_where(tmp_path):
    source = mnist.Source((tmp_path.joinpath("nowhere").as_uri() + "/",), dict.fromkeys(mnist.FILES, "x"), ())
    with pytest.raises(FileNotFoundError) as e:
        mnist.ensure_files("fashion-mnist", tmp_path / "cache", source)
    text = str(e.value)
    assert "train-images-idx3-ubyte.gz" in text and str(tmp_path / "cache") in text and "--data-dir" in text


def test_present_files_are_not_downloaded(tmp_path):
    source, _ = make_mirror(tmp_path / "local")
    offline = mnist.Source(("file:///nonexistent/",), source.md5, source.class_names)
    paths = mnist.ensure_files("mnist", tmp_path / "local", offline)
    assert all(p.exists() for p in paths.values())


def test_uncompressed_files_are_accepted(tmp_path):
    source, arrays = make_mirror(tmp_path / "raw")
    for name in mnist.FILES:                    # replace each .gz by its raw twin
        write_idx(tmp_path / "raw" / name[:-3], arrays[name])
        os.remove(tmp_path / "raw" / name)
    x_tr, *_ = mnist.load_idx_dataset("mnist", tmp_path / "raw", source=source)
    assert x_tr.shape == (30, 28, 28)


def test_folder_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "data"))
    assert mnist.data_folder("mnist") == tmp_path / "data" / "mnist"
    assert mnist.data_folder("mnist", tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("MLPLAB_DATA")
    assert mnist.data_folder("fashion-mnist").name == "fashion-mnist"
    assert "mlplab" in str(mnist.data_folder("fashion-mnist"))


def test_failed_download_leaves_no_folder(tmp_path):
    source = mnist.Source((tmp_path.joinpath("nowhere").as_uri() + "/",), dict.fromkeys(mnist.FILES, "x"), ())
    with pytest.raises(FileNotFoundError):
        mnist.load_idx_dataset("mnist", tmp_path / "new" / "folder", source=source)
    assert not (tmp_path / "new" / "folder").exists()


def test_a_failed_download_into_a_mistyped_folder_leaves_no_folders(tmp_path):
    from mlplab.data.mnist import SOURCES, Source, ensure_files

    offline = Source(mirrors=((tmp_path / "no-mirror").as_uri() + "/",), md5=SOURCES["mnist"].md5,
                     class_names=SOURCES["mnist"].class_names)
    target = tmp_path / "typo" / "deep" / "dir"
    with pytest.raises(FileNotFoundError, match="cannot download"):
        ensure_files("mnist", target, offline)
    assert not (tmp_path / "typo").exists()
