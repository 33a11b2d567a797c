"""MNIST and Fashion-MNIST: where the four IDX files live, fetching them from the official URLs, MD5 checks.

The folder is, in order: the ``data_dir`` argument (``--data-dir``), ``$MLPLAB_DATA/<name>``, then the
per-user cache ``<user cache>/mlplab/<name>``. Missing files are downloaded and MD5-checked; a file that fails
its check is never kept. Files already there are MD5-checked too (the published digests are of the ``.gz``
files; uncompressed copies have none to check against); each digest is remembered in the user cache by
(path, size, modification time), so the check costs nothing the second time. A modified copy is refused unless
``MLPLAB_ALLOW_MODIFIED_DATA=1`` (or ``allow_modified=True``).
"""

from __future__ import annotations

import hashlib
import json
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


ALLOW_MODIFIED = "MLPLAB_ALLOW_MODIFIED_DATA"  # =1: use IDX files whose MD5 differs from the official one
_VERIFIED: dict[str, str] = {}  # this process's share of the on-disk cache below


def digest_cache() -> Path:
    """The JSON file remembering the MD5s already computed: ``{"<path>|<size>|<mtime_ns>": md5}``."""
    return Path(platformdirs.user_cache_dir("mlplab")) / "idx-md5.json"


def _key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _remember(path: Path, digest: str) -> None:
    key = _key(path)
    _VERIFIED[key] = digest
    cache_file = digest_cache()
    try:
        cache = json.loads(cache_file.read_text())
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    prefix = key.rsplit("|", 2)[0] + "|"
    cache = {k: v for k, v in cache.items() if not k.startswith(prefix)}  # older versions of the same file
    cache[key] = digest
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".idx-md5.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, cache_file)
    except OSError:
        pass  # a read-only cache only costs the recomputation next time


def cached_md5(path: Path) -> str:
    """``md5sum(path)``, computed once per (path, size, modification time) and remembered in the user cache."""
    key = _key(path)
    if key not in _VERIFIED:
        try:
            cache = json.loads(digest_cache().read_text())
        except (OSError, ValueError):
            cache = {}
        got = cache.get(key) if isinstance(cache, dict) else None
        if isinstance(got, str):
            _VERIFIED[key] = got
        else:
            _remember(path, md5sum(path))
    return _VERIFIED[key]


def allowed_modified(allow_modified: bool | None = None) -> bool:
    """``allow_modified`` when given, else whether ``$MLPLAB_ALLOW_MODIFIED_DATA`` is 1."""
    return os.environ.get(ALLOW_MODIFIED) == "1" if allow_modified is None else allow_modified


def verify(name: str, paths: dict[str, Path], source: Source, allow_modified: bool | None = None) -> None:
    """Each ``.gz`` file's MD5 is the published one; else ValueError naming the file and the expected digest."""
    if allowed_modified(allow_modified):
        return
    for fname, path in paths.items():
        if path.name != fname or fname not in source.md5:
            continue  # an uncompressed copy: the published digests are of the .gz files
        got, expected = cached_md5(path), source.md5[fname]
        if got != expected:
            raise ValueError(f"{path}: MD5 {got} differs from the official {expected} of {name}'s {fname}; the "
                             "file is damaged or modified: delete it to download it again, or set "
                             f"{ALLOW_MODIFIED}=1 to use a modified copy as it is")


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
        _remember(dest, got)
        return dest
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def ensure_files(name: str, folder: Path, source: Source | None = None) -> dict[str, Path]:
    """Make sure the four files are in ``folder``, downloading the missing ones; return their paths."""
    source = source or SOURCES[name]
    paths = {f: folder / f for f in FILES}
    chain = [folder, *folder.parents]          # the folders a download would create, leaf first
    created = chain[:next((i for i, p in enumerate(chain) if p.exists()), len(chain))]
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
            for made in created:  # leave nothing behind when nothing could be fetched (a mistyped --data-dir)
                if made.is_dir() and not any(made.iterdir()):
                    made.rmdir()
            missing = ", ".join(f for f, p in paths.items() if not (p.exists() or p.with_suffix("").exists()))
            raise FileNotFoundError(
                f"{name}: cannot download {fname} ({'; '.join(errors)}); put the files {missing} "
                f"(from {source.mirrors[0]}) into {folder}, or pass --data-dir FOLDER that holds them")
    return {f: (p if p.exists() else p.with_suffix("")) for f, p in paths.items()}


def check_arrays(paths: dict[str, Path], arrays: list[np.ndarray], classes: int) -> None:
    """Images (N, rows, cols) with N > 0, train and test of one shape, labels (N,) in [0, classes) per file."""
    x_tr, y_tr, x_te, y_te = arrays
    images, labels = (FILES[0], FILES[2]), (FILES[1], FILES[3])
    for fname, x in zip(images, (x_tr, x_te)):
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(f"{paths[fname]}: images must have shape (N, rows, cols) with none of them 0; got "
                             f"{x.shape}; re-download the file")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ValueError(f"{paths[FILES[0]]} holds {x_tr.shape[1]}×{x_tr.shape[2]} images but {paths[FILES[2]]} "
                         f"holds {x_te.shape[1]}×{x_te.shape[2]} ones; both must be of one shape: re-download them")
    for fname, x, y in zip(labels, (x_tr, x_te), (y_tr, y_te)):
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{paths[fname]}: labels {y.shape} do not match its {len(x)} images; re-download it")
        bad = y[(y < 0) | (y >= classes)]
        if len(bad):
            raise ValueError(f"{paths[fname]}: labels must be in [0, {classes}); found {int(bad[0])}; the file "
                             "is damaged or of another dataset: re-download it")


def load_idx_dataset(name: str, data_dir: str | Path | None = None, source: Source | None = None,
                     allow_modified: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as uint8 images (N, 28, 28) and int labels (N,).

    ``allow_modified`` (default: ``$MLPLAB_ALLOW_MODIFIED_DATA`` is 1) accepts files whose MD5 is not the
    published one.
    """
    source = source or SOURCES[name]
    folder = data_folder(name, data_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"data folder {folder} is a file; pass the folder that holds {FILES[0]} etc.")
    paths = ensure_files(name, folder, source)
    verify(name, paths, source, allow_modified)
    arrays = [read_idx(paths[f]) for f in FILES]
    check_arrays(paths, arrays, len(source.class_names))
    return tuple(arrays)
