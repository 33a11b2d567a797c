"""Every bad input: one clear line on stderr, exit code 2, no traceback, nothing written.

Each case runs the real CLI entry point ``main(argv)`` in-process (fast) and, for a representative subset,
``python -m mlplab`` in a real subprocess. Both check: exit 2, exactly one non-empty stderr line, no
'Traceback', the expected words in the message, and no new or changed file in the output or data folders.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli.main import main
from mlplab.data.idx import encode_idx
from mlplab.data.mnist import FILES

REPO = Path(__file__).resolve().parents[1]


def write_mnist(folder: Path, labels_max: int = 9, test_label: int = 9, train_shape=(40, 28, 28),
                test_shape=(20, 28, 28)) -> Path:
    """A tiny MNIST-shaped IDX set (40 train, 20 test) in ``folder`` (not the official files: tests that load
    it set MLPLAB_ALLOW_MODIFIED_DATA=1)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, train_shape, dtype=np.uint8), (np.arange(train_shape[0]) % 10).astype(np.uint8),
              rng.integers(0, 256, test_shape, dtype=np.uint8), (np.arange(test_shape[0]) % 10).astype(np.uint8)]
    if len(arrays[1]) > 3:
        arrays[1][3] = labels_max
    arrays[3][2] = test_label
    for name, array in zip(FILES, arrays):
        (folder / name).write_bytes(gzip.compress(encode_idx(array)))
    return folder


def corrupt(kind: str):
    def make(tmp: Path) -> list[str]:
        folder = write_mnist(tmp / "data", labels_max=12 if kind == "labels" else 9)
        target = folder / FILES[0]
        raw = gzip.decompress(target.read_bytes())
        if kind == "truncated":
            target.write_bytes(gzip.compress(raw[:-100]))
        elif kind == "magic":
            target.write_bytes(gzip.compress(b"\x00\x00\x07\x03" + raw[4:]))
        elif kind == "gzip":
            target.write_bytes(target.read_bytes()[:50])
        elif kind == "empty":
            target.write_bytes(b"")
        return ["--dataset", "mnist", "--data-dir", str(folder)]
    return make


def idx_set(**kwargs):
    def make(tmp: Path) -> list[str]:
        return ["--dataset", "mnist", "--data-dir", str(write_mnist(tmp / "data", **kwargs))]
    return make


def config_file(text: str):
    def make(tmp: Path) -> list[str]:
        path = tmp / "data" / "bad.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return ["--config", str(path)]
    return make


def config_bytes(tmp: Path, raw: bytes) -> list[str]:
    path = tmp / "data" / "bad.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    return ["--config", str(path)]


def a_file_as_parent(tmp: Path) -> list[str]:
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "data" / "plain-file").write_text("not a folder")
    return ["--out", str(tmp / "data" / "plain-file" / "runs")]


def flags(*args: str):
    return lambda tmp: list(args)


# name -> (extra argv from the tmp folder, words the message must hold)
CASES = {
    "unknown dataset": (flags("--dataset", "cifar"), ["dataset", "cifar", "digits", "iris", "mnist"]),
    "unknown activation": (flags("--activation", "swishy"), ["activation", "swishy", "relu", "tanh"]),
    "unknown init": (flags("--init", "zeros_ish"), ["init", "zeros_ish"]),
    "unknown optimizer": (flags("--optimizer", "lion"), ["optimizer", "lion", "adam", "sgd"]),
    "unknown loss": (flags("--loss", "hinge"), ["loss", "hinge", "cross_entropy", "mse"]),
    "loss of another task": (flags("--loss", "mse"), ["mse", "multiclass", "cross_entropy"]),
    "zero lr": (flags("--lr", "0"), ["lr", "positive"]),
    "negative lr": (flags("--lr", "-0.1"), ["lr", "-0.1"]),
    "lr not a number": (flags("--lr", "fast"), ["--lr", "fast"]),
    "zero epochs": (flags("--epochs", "0"), ["epochs", "positive"]),
    "negative epochs": (flags("--epochs", "-3"), ["epochs", "-3"]),
    "zero batch size": (flags("--batch-size", "0"), ["batch_size", "positive"]),
    "negative batch size": (flags("--batch-size", "-8"), ["batch_size", "-8"]),
    "dropout 1": (flags("--dropout", "1"), ["dropout", "[0, 1)"]),
    "negative dropout": (flags("--dropout", "-0.2"), ["dropout", "[0, 1)"]),
    "zero width": (flags("--hidden", "64,0"), ["hidden", "positive integers"]),
    "negative width": (flags("--hidden", "-4"), ["hidden", "positive integers"]),
    "fractional width": (flags("--hidden", "2.5"), ["hidden", "2.5"]),
    "word width": (flags("--hidden", "wide"), ["hidden", "wide"]),
    "unknown device": (flags("--device", "tpu"), ["device", "tpu"]),
    "config unknown key": (config_file("hiden = [32]\n"), ["hiden", "unknown config key", "hidden"]),
    "config wrong type": (config_file('lr = "fast"\n'), ["lr", "number", "fast"]),
    "config wrong list type": (config_file("hidden = [32, \"x\"]\n"), ["hidden", "integers"]),
    "config not toml": (config_file("lr = = 1\n"), ["TOML"]),
    "config not UTF-8": (lambda tmp: config_bytes(tmp, b"lr = 0.1\n# caf\xe9\n"), ["bad.toml", "UTF-8"]),
    "empty config path": (flags("--config", ""), ["--config", "empty"]),
    "empty data dir": (flags("--data-dir", ""), ["--data-dir", "empty"]),
    "empty hidden": (flags("--hidden", ""), ["hidden", "empty", "none"]),
    "empty hidden item": (flags("--hidden", "8,,8"), ["hidden", "8,,8"]),
    "empty activation item": (flags("--activation", "relu,"), ["activation", "relu,"]),
    "init std nan": (flags("--init", "normal:nan"), ["normal:nan", "std", "finite"]),
    "init gain nan": (flags("--init", "xavier_normal:gain=nan"), ["gain", "finite"]),
    "init a nan": (flags("--init", "kaiming_normal:a=nan"), ["kaiming_normal:a=nan", "finite"]),
    "init uniform infinite": (flags("--init", "uniform:-inf:inf"), ["uniform", "finite"]),
    "init std infinite": (flags("--init", "normal:0:inf"), ["std", "finite"]),
    "init constant nan": (flags("--init", "constant:nan"), ["val", "finite"]),
    "init std overflows": (flags("--init", "normal:1e400"), ["std", "finite"]),
    "init uniform beyond float32": (flags("--init", "uniform:-1e308:1e308"), ["uniform", "float32"]),
    "init too many arguments": (flags("--init", "normal:0.01:0.1:7"), ["normal takes at most 2", "got 3"]),
    "init unknown mode": (flags("--init", "kaiming_normal:mode=sideways"), ["mode", "sideways"]),
    "device meta": (flags("--device", "meta"), ["device", "meta", "cpu"]),
    "device mps": (flags("--device", "mps"), ["device", "mps", "cpu"]),
    "momentum 1": (flags("--momentum", "1"), ["momentum", "[0, 1)", "1.0"]),
    "nesterov without momentum": (flags("--nesterov"), ["nesterov", "momentum"]),
    "momentum for adam": (flags("--optimizer", "adam", "--momentum", "0.9"), ["adam", "momentum"]),
    "bad label only in t10k": (idx_set(test_label=11), ["t10k-labels-idx1-ubyte.gz", "[0, 10)", "11"]),
    "train and test images of two shapes": (idx_set(train_shape=(40, 28, 27)), ["28×27", "28×28",
                                                                                 FILES[0], FILES[2]]),
    "images without a row axis": (idx_set(train_shape=(0, 28)), [FILES[0], "(0, 28)", "(N, rows, cols)"]),
    "config missing": (lambda tmp: ["--config", str(tmp / "nowhere.toml")], ["nowhere.toml", "not found"]),
    "data folder without the files": (lambda tmp: ["--dataset", "mnist", "--data-dir", str(tmp / "data")],
                                      ["cannot download", "train-images-idx3-ubyte.gz", "data"]),
    "data folder is a file": (lambda tmp: ["--dataset", "mnist", "--data-dir", str(REPO / "pyproject.toml")],
                              ["pyproject.toml"]),
    "truncated IDX": (corrupt("truncated"), ["truncated", FILES[0], "re-download"]),
    "bad IDX magic": (corrupt("magic"), ["magic", FILES[0]]),
    "corrupt gzip": (corrupt("gzip"), ["gzip", FILES[0]]),
    "empty IDX": (corrupt("empty"), [FILES[0]]),
    "labels out of range": (corrupt("labels"), ["labels", "[0, 10)", "12"]),
    "out under a file": (a_file_as_parent, ["not writable", "plain-file", "--out"]),
    "out in /proc": (flags("--out", "/proc/mlplab-runs"), ["not writable", "/proc/mlplab-runs"]),
    "resume a folder that is not a run": (lambda tmp: ["--resume", str(tmp / "data")], ["not a run folder"]),
}
SUBPROCESS = ["unknown dataset", "data folder without the files", "truncated IDX", "labels out of range",
              "out under a file", "init std nan", "device mps"]
NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
              "MLPLAB_ALLOW_MODIFIED_DATA": "1"}  # the IDX files here are fakes; test_mnist checks the MD5s


def snapshot(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for f in folders if f.exists() for p in sorted(f.rglob("*")) if p.is_file()}


def prepare(tmp: Path, name: str) -> tuple[list[str], list[str], Path]:
    out = tmp / "out"
    out.mkdir()
    (tmp / "data").mkdir()
    make, words = CASES[name]
    argv = ["train", "--dataset", "iris", "--hidden", "8", "--epochs", "1", "--device", "cpu", "--quiet",
            "--out", str(out), *make(tmp)]
    return argv, words, out


def check(code: int, err: str, words: list[str], before: dict, tmp: Path, out: Path) -> None:
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].strip(), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert list(out.iterdir()) == []  # no run folder
    assert snapshot(tmp / "data") == before  # nothing written or overwritten


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_in_process(name, tmp_path, capsys, monkeypatch):
    for key, value in NO_NETWORK.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLPLAB_DEBUG", raising=False)
    argv, words, out = prepare(tmp_path, name)
    before = snapshot(tmp_path / "data")
    capsys.readouterr()
    code = main(argv)
    check(code, capsys.readouterr().err, words, before, tmp_path, out)


@pytest.mark.parametrize("name", SUBPROCESS)
def test_bad_input_subprocess(name, tmp_path):
    argv, words, out = prepare(tmp_path, name)
    before = snapshot(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if k != "MLPLAB_DEBUG"}
    done = subprocess.run([sys.executable, "-m", "mlplab", *argv], capture_output=True, text=True, timeout=120,
                          env={**env, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", **NO_NETWORK})
    check(done.returncode, done.stderr, words, before, tmp_path, out)
    assert done.stdout == ""


def test_a_batch_that_does_not_fit_in_memory(tmp_path):
    """A real allocator failure (address space capped at 2 GiB): one line suggesting a smaller batch."""
    out = tmp_path / "out"
    out.mkdir()
    limit = 2 * 1024**3

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    argv = ["train", "--dataset", "digits", "--hidden", "200000", "--batch-size", "1024", "--epochs", "1",
            "--device", "cpu", "--quiet", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "mlplab", *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}, preexec_fn=cap)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "out of memory" in lines[0] and "--batch-size 512" in lines[0]
    assert list(out.iterdir()) == []


# Mistakes a newcomer makes on the command line: the line says what was meant (argv -> words the line must hold).
TEACHING = {
    "unknown flag": (["train", "--learning-rate", "0.1"],
                     ["unrecognized arguments: --learning-rate", "did you mean --lr?"]),
    "misspelt flag": (["train", "--optimzer", "adam"], ["--optimzer", "did you mean --optimizer?"]),
    "list with spaces": (["train", "--hidden", "256", "256"], ["lists take commas: --hidden 256,256"]),
    "list with spaces, then a flag": (["train", "--activation", "relu", "tanh", "--lr", "0.1"],
                                      ["lists take commas: --activation relu,tanh"]),
    "unknown command": (["trian", "--epochs", "1"], ["invalid choice: 'trian'", "did you mean 'train'?"]),
    "unknown choice": (["train", "--impl", "scrach"], ["did you mean 'scratch'?"]),
    "unknown optimizer": (["train", "--optimizer", "adamm", "--epochs", "1"], ["did you mean 'adam'?", "adamax"]),
    "unknown dataset": (["train", "--dataset", "digts", "--epochs", "1"], ["did you mean 'digits'?"]),
    "unknown recipe": (["recipe", "dropuot"], ["did you mean 'dropout'?"]),
}


@pytest.mark.parametrize("name", list(TEACHING))
def test_a_mistake_on_the_command_line_says_what_was_meant(name, tmp_path):
    argv, words = TEACHING[name]
    env = {k: v for k, v in os.environ.items() if k != "MLPLAB_DEBUG"}
    done = subprocess.run([sys.executable, "-m", "mlplab", *argv, *(["--out", str(tmp_path / "runs")]
                                                                    if argv[0] == "train" else [])],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**env, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", **NO_NETWORK})
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_nothing_close_gets_no_guess():
    from mlplab.cli.flags import closest, did_you_mean

    assert closest("--zzz", ["--lr", "--epochs"]) is None and did_you_mean("lion", ["adam", "sgd"]) == ""
    assert closest("--bs", ["--batch-size", "--lr"]) == "--batch-size"


# ---- bad table files: the message names the file and what is really wrong with it ------------------------------

def _rows() -> bytes:
    """60 rows of id, a, b, c, y."""
    return "".join(f"{i},{i % 7 / 7:.3f},{i % 5 / 5:.3f},{'xyz'[i % 3]},{'yes' if i % 2 else 'no'}\n"
                   for i in range(60)).encode()


def npy_cut(tmp: Path) -> Path:
    np.save(tmp / "t.npy", np.arange(400.0).reshape(100, 4))
    whole = (tmp / "t.npy").read_bytes()
    (tmp / "t.npy").write_bytes(whole[:len(whole) // 2])
    return tmp / "t.npy"


def npz_cut(tmp: Path) -> Path:
    np.savez(tmp / "t.npz", a=np.arange(100.0), y=np.array(["p", "q"] * 50))
    whole = (tmp / "t.npz").read_bytes()
    (tmp / "t.npz").write_bytes(whole[:len(whole) // 2])
    return tmp / "t.npz"


def named(name: str, content: bytes):
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name
    return make


def parquet_as_csv(tmp: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "y": ["p", "q"]}), tmp / "t.csv")
    return tmp / "t.csv"


def zip_as_csv(tmp: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(tmp / "t.csv", "w") as z:
        z.writestr("t.csv", b"id,a,b,c,y\n" + _rows())
    return tmp / "t.csv"


def folder(tmp: Path) -> Path:
    (tmp / "tables").mkdir()
    return tmp / "tables"


HEADER = b"id,a,b,c,y\n"
BAD_FILES = {  # name -> (make(tmp) -> the --data path, words the one line must hold besides the path)
    "empty file": (named("t.csv", b""), ["is empty"]),
    "only blank lines": (named("t.csv", b"\n\n \n"), ["only blank lines"]),
    "header only": (named("t.csv", HEADER), ["header (id, a, b, c, y) but no rows"]),
    "too few cells": (named("t.csv", HEADER + _rows() + b"1,2,3\n" + _rows()), ["line 62: 3 cells where the "
                                                                            "header has 5"]),
    "too many cells": (named("t.csv", HEADER + b"1,2,3,x,yes,6,7\n" + _rows()), ["line 2: 7 cells"]),
    "unclosed quote": (named("t.csv", HEADER + _rows() + b'99,0.5,0.5,"x,yes\n' + _rows()),
                       ["line 62: a quoted cell opens there", "never closed"]),
    "binary with NUL bytes": (named("t.csv", bytes(range(256)) * 20), ["is not text", "NUL"]),
    "binary without NUL bytes": (named("t.csv", bytes(range(1, 256)) * 20), ["is not text", "control"]),
    "gzip named .csv": (named("t.csv", gzip.compress(HEADER + _rows())), ["gzip-compressed", "gunzip"]),
    "zip named .csv": (zip_as_csv, ["zip archive"]),
    "parquet named .csv": (parquet_as_csv, ["Parquet file", ".parquet"]),
    "UTF-16 with a BOM": (named("t.csv", (HEADER + _rows()).decode().encode("utf-16")), ["UTF-16", "UTF-8"]),
    "latin-1 header": (named("t.csv", b"id,caf\xe9,b,c,y\n" + _rows()), ["not UTF-8", "line 1"]),
    "truncated npy": (npy_cut, ["truncated", "shape (100, 4)"]),
    "truncated npz": (npz_cut, ["truncated", ".npz"]),
    "no header row": (named("t.csv", b"0,0,0,0,0\n" + _rows()), ["no header row", "(0, 0, 0, 0, 0)"]),
    "a folder": (folder, ["is a folder", "pass a file"]),
    "missing file": (lambda tmp: tmp / "nowhere.csv", ["not found"]),
}


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """A tiny table run (id, a, b, c -> y) to predict with."""
    import torch

    root = tmp_path_factory.mktemp("table-run")
    (root / "t.csv").write_bytes(HEADER + _rows())
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--data", str(root / "t.csv"), "--target", "y", "--epochs", "1", "--hidden", "4",
                     "--quiet", "--baselines", "none", "--out", str(root / "runs")]) == 0
    finally:
        torch.set_num_threads(n)
    return next((root / "runs").iterdir())


@pytest.mark.parametrize("command", ["train", "predict"])
@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_table_file_is_one_line_naming_it_and_the_real_cause(name, command, tmp_path, capsys, table_run):
    make, words = BAD_FILES[name]
    data = make(tmp_path)
    out = tmp_path / "out"
    argv = (["train", "--data", str(data), "--target", "y", "--epochs", "1", "--quiet", "--out", str(out)]
            if command == "train" else ["predict", str(table_run), "--data", str(data), "--out", str(out / "p.csv")])
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(data) in err and all(w in err for w in words), err
    assert not out.exists() or list(out.iterdir()) == []


def test_a_fifo_holding_rows_is_named_a_pipe_not_an_empty_file(tmp_path, capsys, table_run):
    """A FIFO with a writer waiting (its rows never read: reading one would block or read it once only)."""
    import threading

    fifo = tmp_path / "t.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(HEADER + _rows()), daemon=True)
    writer.start()
    try:
        for argv in (["train", "--data", str(fifo), "--target", "y", "--quiet", "--out", str(tmp_path / "out")],
                     ["predict", str(table_run), "--data", str(fifo), "--out", str(tmp_path / "p.csv")]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert len(err.splitlines()) == 1 and f"{fifo} is not a regular file (a pipe" in err, err
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the waiting writer go
        writer.join(timeout=5)


def test_a_valid_csv_with_a_10_mb_cell_is_read(tmp_path, capsys, table_run):
    """Not "straddling object ... increase block size": a cell longer than the reader's block reads fine."""
    rows = _rows().splitlines(keepends=True)
    data = tmp_path / "t.csv"
    data.write_bytes(HEADER + b"".join(rows[:30]) + b"99,0.5,0.5," + b"x" * (10 << 20) + b",yes\n" + b"".join(rows[30:]))
    assert main(["predict", str(table_run), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0, \
        capsys.readouterr().err
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 62


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_rows_without_a_trained_column_are_refused_naming_the_file(command, tmp_path, capsys, table_run):
    data = tmp_path / "new.csv"
    data.write_text("id,a,y\n1,0.5,yes\n2,0.1,no\n")
    refused = main([command, str(table_run), "--data", str(data), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert refused == 2 and len(err.splitlines()) == 1, err
    assert f"{data} lacks column(s) ['b', 'c'] that the run was trained with" in err, err


@pytest.mark.parametrize("command", [["predict", "{run}", "--data", "{data}", "--out", "{out}"],
                                     ["evaluate", "{run}", "--data", "{data}", "--out", "{out}"],
                                     ["export", "{run}", "--format", "onnx", "--out", "{out}"],
                                     ["train", "--resume", "{run}"]], ids=lambda c: c[0] if c[0] != "train" else "resume")
@pytest.mark.parametrize("what, why", [("missing", "it does not exist"), ("file", "it is a file, not a folder"),
                                       ("empty folder", "no config.toml in it")])
def test_a_path_that_is_no_run_folder_says_why(command, what, why, tmp_path, capsys):
    run = {"missing": tmp_path / "nowhere", "file": tmp_path / "t.csv", "empty folder": tmp_path / "runs"}[what]
    (tmp_path / "t.csv").write_bytes(HEADER + _rows())
    (tmp_path / "runs").mkdir()
    argv = [a.format(run=run, data=tmp_path / "t.csv", out=tmp_path / "out") for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"{run} is not a run folder ({why})" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["train"], ["train", "--seeds", "2"], ["cv"], ["tune"],
                                     ["compare", "--grid", "lr=0.1,0.01"]], ids=" ".join)
def test_data_naming_a_missing_file_without_suffix_is_a_missing_file(command, tmp_path, capsys, monkeypatch):
    """``--data nowhere`` names a table file (no dataset): the one line says the file is missing, for every
    command that trains."""
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--data", "nowhere", "--target", "y", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["mlplab: error: data file nowhere not found; check the --data path"], err
    assert not (tmp_path / "out").exists()
