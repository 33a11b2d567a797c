"""MNIST and Fashion-MNIST: where the four IDX files live, fetching them from the official URLs, MD5 checks.

The folder is, in order: the ``data_dir`` argument (``--data-dir``), ``$MLPLAB_DATA/<name>``, then the
per-user cache ``<user cache>/mlplab/<name>``. Missing files are downloaded and MD5-checked; a file that fails
its check is never kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from mlplab.data.idx import read_idx


@dataclass(frozen=True)
class Source:
    mirrors: tuple[str, ...]     # base URLs, tried in order
    md5: dict[str, str]          # file name -> MD5 of the .gz as published
    class_names: tuple[str, ...]


FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

SOURCES = {
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5=dict(zip(FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        class_names=("t-shirt/top", "trouser", "pullover", "dress", "coat",
                     "sandal", "shirt", "sneaker", "bag", "ankle boot"),
    ),
    "mnist": Source(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        md5=dict(zip(FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        class_names=tuple(str(d) for d in range(10)),
    ),
}


def data_folder(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding ``name``'s files: ``data_dir``, else ``$MLPLAB_DATA/<name>``, else the user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("MLPLAB_DATA"):
        return Path(os.environ["MLPLAB_DATA"]).expanduser() / name
    return Path(platformdirs.user_cache_dir("mlplab")) / name


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, md5: str, timeout: float = 10.0) -> Path:
    """Fetch ``url`` to ``dest`` through a temporary file; keep it only if its MD5 is ``md5``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while block := response.read(1 << 20):
                out.write(block)
        got = md5sum(Path(tmp))
        if got != md5:
            raise ValueError(f"{url}: MD5 mismatch (expected {md5}, got {got}); the download is corrupt, "
                             "try again or fetch the file by hand")
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def ensure_files(name: str, folder: Path, source: Source | None = None) -> dict[str, Path]:
    """Make sure the four files are in ``folder``, downloading the missing ones; return their paths."""
    source = source or SOURCES[name]
    paths = {f: folder / f for f in FILES}
    created = not folder.exists()
    for fname, path in paths.items():
        if path.exists() or path.with_suffix("").exists():
            continue
        errors = []
        for base in source.mirrors:
            try:
                download(base + fname, path, source.md5[fname])
                break
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                errors.append(f"{base}: {getattr(e, 'reason', e)}")
        else:
            if created and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # leave nothing behind when nothing could be fetched
            missing = ", ".join(f for f, p in paths.items() if not (p.exists() or p.with_suffix("").exists()))
            raise FileNotFoundError(
                f"{name}: cannot download {fname} ({'; '.join(errors)}); put the files {missing} "
                f"(from {source.mirrors[0]}) into {folder}, or pass --data-dir FOLDER that holds them")
    return {f: (p if p.exists() else p.with_suffix("")) for f, p in paths.items()}


def load_idx_dataset(name: str, data_dir: str | Path | None = None,
                     source: Source | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as uint8 images (N, 28, 28) and int labels (N,)."""
    folder = data_folder(name, data_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"data folder {folder} is a file; pass the folder that holds {FILES[0]} etc.")
    paths = ensure_files(name, folder, source)
    x_tr, y_tr, x_te, y_te = (read_idx(paths[f]) for f in FILES)
    for x, y, split in ((x_tr, y_tr, "train"), (x_te, y_te, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{folder}: {split} images {x.shape} and labels {y.shape} do not match; "
                             "re-download the files")
    return x_tr, y_tr, x_te, y_te
