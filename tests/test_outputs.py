"""--out of predict, export and evaluate (mlplab.runs.outputs): never onto an input, into a run folder, onto a
device, FIFO or folder, never over a file mlplab did not write without --force; a full disk, SIGTERM or SIGKILL
leaves the old file whole and no temporary behind. Real files, real devices (mknod as root), real tmpfs,
real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ONE_THREAD, small_table, tmpfs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyarrow")

from mlplab.cli.main import main  # noqa: E402
from mlplab.runs.outputs import MARK, OutputRefused, check_output, written_by_mlplab  # noqa: E402
from mlplab.runs.rundir import atomic_write  # noqa: E402

COMMANDS = ["predict", "export", "evaluate"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny table run (2 epochs, 8 units) and its data file."""
    import torch

    root = tmp_path_factory.mktemp("outputs")
    data = small_table(root / "t.csv", rows=120)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--data", str(data), "--target", "y", "--epochs", "2", "--hidden", "8", "--out",
                     str(root / "runs"), "--quiet", "--device", "cpu", "--schedule", "none"]) == 0
    finally:
        torch.set_num_threads(n)
    return next((root / "runs").iterdir()), data


def argv(command: str, run: Path, data: Path, out) -> list[str]:
    extra = ["--format", "torchscript"] if command == "export" else []
    return [command, str(run), "--data", str(data), "--out", str(out), *extra]


def snapshot(folder: Path) -> dict:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.iterdir())}


def refused(capsys, args, *words) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


# ---- onto an input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["predict", "export"])
@pytest.mark.parametrize("how", ["same path", "dot path", "hard link", "symlink", "absolute"])
def test_out_onto_the_input_is_refused_and_the_input_stays(trained, tmp_path, capsys, command, how):
    run, original = trained
    data = shutil.copy(original, tmp_path / "rows.csv")
    before = Path(data).read_bytes()
    out = {"same path": Path(data), "dot path": tmp_path / "." / "rows.csv", "absolute": Path(data).resolve(),
           "hard link": tmp_path / "hard.csv", "symlink": tmp_path / "link.csv"}[how]
    if how == "hard link":
        os.link(data, out)
    if how == "symlink":
        out.symlink_to(data)
    refused(capsys, argv(command, run, Path(data), out), "same file as the input")
    assert Path(data).read_bytes() == before


def test_evaluate_out_onto_the_data_file_is_refused(trained, tmp_path, capsys):
    run, original = trained
    data = shutil.copy(original, tmp_path / "rows.csv")
    refused(capsys, ["evaluate", str(run), "--data", str(data), "--out", str(data)], "is the input")
    assert Path(data).read_bytes() == original.read_bytes()


# ---- into a run folder ------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", ["model.safetensors", "data.json", "config.toml", "manifest.json", "metrics.json",
                                  "checkpoint.safetensors", "new-file.csv", "."])
def test_out_into_a_run_folder_is_refused_and_the_run_still_loads(trained, capsys, command, name):
    run, data = trained
    before = snapshot(run)
    out = run if name == "." else run / name
    refused(capsys, argv(command, run, data, out), "run folder")
    assert snapshot(run) == before
    from mlplab.runs.run import load_run

    load_run(run)  # still sealed, every file as written


def test_evaluate_into_a_compare_folder_is_refused(trained, tmp_path, capsys):
    run, data = trained
    (tmp_path / "compare.json").write_text("{}")
    refused(capsys, argv("evaluate", run, data, tmp_path), "run folder", "compare.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.json"]


# ---- onto things that are not regular files ---------------------------------------------------------------

def special(kind: str, where: Path) -> Path:
    path = where / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling symlink":
        path.symlink_to(where / "missing")
    elif kind == "socket":
        import socket

        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    return path


@pytest.mark.parametrize("command", ["predict", "export"])
@pytest.mark.parametrize("kind", ["fifo", "folder", "dangling symlink", "socket", "/dev/null"])
def test_out_onto_a_non_regular_file_is_refused_and_left_as_it_was(trained, tmp_path, capsys, command, kind):
    run, data = trained
    out = Path("/dev/null") if kind == "/dev/null" else special(kind, tmp_path)
    mode = os.lstat(out).st_mode
    refused(capsys, argv(command, run, data, out), str(out))
    assert os.lstat(out).st_mode == mode
    assert not list(out.parent.glob(f".{out.name}.*.tmp"))


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
@pytest.mark.parametrize("command", COMMANDS)
def test_out_onto_a_character_device_made_with_mknod_is_refused(trained, tmp_path, capsys, command):
    run, data = trained
    device = tmp_path / "null-copy"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the same device as /dev/null
    out = device if command != "evaluate" else tmp_path / "ev"
    if command == "evaluate":  # a device where the folder's file would go
        out.mkdir()
        os.mknod(out / "metrics.json", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        device = out / "metrics.json"
    refused(capsys, argv(command, run, data, out), "character device")
    assert stat.S_ISCHR(os.lstat(device).st_mode) and os.major(os.lstat(device).st_rdev) == 1


# ---- replacing files: only mlplab's, unless --force ------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_mlplab_did_not_write_needs_force_and_its_own_does_not(trained, tmp_path, capsys, command):
    run, data = trained
    target = tmp_path / ("ev" if command == "evaluate" else "out.file")
    mine = target / "metrics.json" if command == "evaluate" else target
    mine.parent.mkdir(exist_ok=True)
    mine.write_bytes(b"a user's file\n")
    refused(capsys, argv(command, run, data, target), "not written by mlplab", "--force")
    assert mine.read_bytes() == b"a user's file\n"
    assert main(argv(command, run, data, target) + ["--force"]) == 0
    assert mine.read_bytes() != b"a user's file\n" and written_by_mlplab(mine)
    assert main(argv(command, run, data, target)) == 0  # mlplab's own output: replaced without --force
    capsys.readouterr()


def test_a_copy_of_mlplab_output_is_not_mlplab_output(tmp_path):
    from mlplab.runs.outputs import write_output

    write_output(tmp_path / "a.csv", lambda p: p.write_text("x\n"), "predict")
    assert os.getxattr(tmp_path / "a.csv", MARK) == b"predict"
    shutil.copyfile(tmp_path / "a.csv", tmp_path / "b.csv")
    with pytest.raises(OutputRefused, match="not written by mlplab"):
        check_output(tmp_path / "b.csv")


# ---- full disk, SIGTERM, SIGKILL ----------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path, "48k") as mnt:
        yield mnt


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_names_the_file_and_leaves_nothing_half_written(trained, tmp_path, small_disk, capsys, command):
    run, original = trained
    data = small_table(tmp_path / "many.csv", rows=3000, seed=1)  # predictions bigger than the disk
    (small_disk / "filler").write_bytes(b"\0" * (40 << 10))
    out = small_disk / ("ev" if command == "evaluate" else "out.file")
    err = refused(capsys, argv(command, run, data, out), "no space left on device", str(small_disk))
    assert "writing " + str(small_disk) in err
    left = sorted(str(p.relative_to(small_disk)) for p in small_disk.rglob("*"))
    assert left == ["filler"], left  # no 0-byte file under its final name, no temporary, no empty folder


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mlplab.runs.rundir import atomic_write

    def slow(tmp):
        with open(tmp, "w") as f:
            f.write("partial")
            f.flush()
            print("writing", flush=True)
            time.sleep(30)

    atomic_write(Path(sys.argv[1]), slow)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, sig):
    out = tmp_path / "p.csv"
    out.write_text("old\n")
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True,
                             stderr=subprocess.PIPE, env={**os.environ, **ONE_THREAD})
    assert child.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.glob(".p.csv.*.tmp"))) == 1
    child.send_signal(sig)
    child.wait(timeout=30)
    assert out.read_text() == "old\n"
    if sig == signal.SIGTERM:
        assert "Terminated: terminated (SIGTERM) while writing" in child.stderr.read()
        assert not list(tmp_path.glob(".p.csv.*.tmp"))
    else:  # a SIGKILLed writer cannot clean up: the next write beside it does
        assert len(list(tmp_path.glob(".p.csv.*.tmp"))) == 1
        atomic_write(out, lambda p: p.write_text("new\n"))
        assert out.read_text() == "new\n" and not list(tmp_path.glob(".p.csv.*.tmp"))


@pytest.mark.parametrize("command,delay", [("predict", 0.5), ("predict", 2.0), ("export", 3.0), ("evaluate", 2.5)])
def test_sigterm_at_any_moment_leaves_a_whole_file_or_none(trained, tmp_path, command, delay):
    run, data = trained
    out = tmp_path / ("ev" if command == "evaluate" else "p.csv")
    child = subprocess.Popen([sys.executable, "-m", "mlplab", *argv(command, run, data, out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **ONE_THREAD})
    time.sleep(delay)
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=60)
    assert not list(tmp_path.rglob(".*.tmp"))
    if command == "predict" and out.exists():
        assert len(out.read_text().splitlines()) == 121  # header and every row
    if command == "evaluate" and (out / "metrics.json").exists():
        json.loads((out / "metrics.json").read_text())
    if command == "export" and Path(f"{out}.json").exists():
        assert out.stat().st_size > 0 and json.loads(Path(f"{out}.json").read_text())["format"] == "torchscript"
    assert "Traceback" not in child.stderr.read()


# ---- the rule, drawn at random: what check_output lets through --------------------------------------------------

KINDS = ["new", "own file", "user file", "input", "hard link to input", "symlink to input", "fifo", "folder",
         "dangling symlink", "in run folder", "deep in run folder", "run folder", "in compare folder"]


def make_target(root: Path, kind: str, data: Path) -> Path:
    from mlplab.runs.outputs import write_output

    run = root / "run"
    run.mkdir(exist_ok=True)
    (run / "manifest.json").write_text("{}")
    (root / "cmp").mkdir(exist_ok=True)
    (root / "cmp" / "compare.json").write_text("{}")
    out = root / "out.csv"
    if kind == "own file":
        write_output(out, lambda p: p.write_text("mine\n"), "predict")
    elif kind == "user file":
        out.write_text("theirs\n")
    elif kind == "input":
        out = data
    elif kind == "hard link to input":
        os.link(data, out)
    elif kind == "symlink to input":
        out.symlink_to(data)
    elif kind in ("fifo", "folder", "dangling symlink"):
        out = special(kind, root)
    elif kind == "in run folder":
        out = run / "p.csv"
    elif kind == "deep in run folder":
        (run / "sub").mkdir()
        out = run / "sub" / "p.csv"
    elif kind == "run folder":
        out = run
    elif kind == "in compare folder":
        out = root / "cmp" / "p.csv"
    return out


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(KINDS), force=st.booleans())
def test_check_output_lets_through_only_new_paths_and_replaceable_files(tmp_path_factory, kind, force):
    root = tmp_path_factory.mktemp("rule")
    data = root / "data.csv"
    data.write_text("a,y\n1,p\n")
    out = make_target(root, kind, data)
    before = os.lstat(out).st_mode if os.path.lexists(out) else None
    allowed = kind in ("new", "own file") or (kind == "user file" and force)
    try:
        check_output(out, inputs=[data], force=force)
        assert allowed, (kind, force)
    except OutputRefused as e:
        assert not allowed and str(out) in str(e) and "\n" not in str(e), (kind, force, e)
    assert (os.lstat(out).st_mode if os.path.lexists(out) else None) == before
    assert data.read_text() == "a,y\n1,p\n"
