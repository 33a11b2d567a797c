"""The CLI for issue 3, in real subprocesses: train --impl scratch, summary of a run folder, losses, plot."""

from __future__ import annotations

import struct

import pytest


def test_train_scratch_then_summary_of_the_run_folder(cli, tmp_path):
    r = cli("train", "--impl", "scratch", "--dataset", "iris", "--hidden", "8", "--epochs", "3", "--device", "cpu",
            "--out", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    folder = r.stdout.strip().splitlines()[-1].removeprefix("run folder: ")
    assert 'impl = "scratch"' in (tmp_path / folder.split("/")[-1] / "config.toml").read_text()
    s = cli("summary", folder, "--params")
    assert s.returncode == 0, s.stderr
    assert "4·8 + 8 = 40" in s.stdout and "8·3 + 3 = 27" in s.stdout and "total" in s.stdout
    assert "1.W" in s.stdout and "(4, 8)" in s.stdout and "state_dict keys:" in s.stdout


def test_summary_of_a_folder_that_is_not_a_run_is_one_line(cli, tmp_path):
    r = cli("summary", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a run folder" in r.stderr


def test_summary_of_the_scratch_tutorial_model(cli):
    r = cli("summary", "--impl", "scratch", "--dataset", "iris", "--hidden", "4,4", "--activation", "tanh,relu",
            "--init", "xavier_normal,kaiming_normal,default")
    assert r.returncode == 0, r.stderr
    assert "4·4 + 4 = 20" in r.stdout and "4·3 + 3 = 15" in r.stdout


def test_losses_prints_the_worked_examples_and_misuse_messages(cli):
    r = cli("losses")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    lines = out.splitlines()
    table = [line.split()[:5] for line in lines[4:9]]
    assert table == [["l1", "float", "1.0000", "1.0000", "1.0000"],
                     ["smooth_l1", "float", "0.6250", "0.6250", "0.6250"],
                     ["mse", "float", "1.5000", "1.5000", "1.5000"],
                     ["cross_entropy", "float", "2.0794", "2.0794", "2.0794"],
                     ["cross_entropy", "indices", "0.6931", "0.6931", "0.6931"]]
    # the targets are named for what they are: [[0, 1], [2, 3]] is no distribution, [0, 1] are class indices
    assert lines[1].startswith("  float   [[0.0, 1.0], [2.0, 3.0]]: ") and "not renormalised" in lines[1]
    assert lines[2] == "  indices [0, 1] (int64): one class index per row, for cross_entropy"
    assert "target rows as class probabilities" not in out
    assert out.count("loss 839.4167  bias after the step [-0.55, 0.2, 0.95]") == 2
    assert "total                            46" in out
    assert "use bce_with_logits" in out and "class index 3 but the output has 3 classes" in out


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_plot_activations_writes_one_png(cli, tmp_path, impl):
    out = tmp_path / "act.png"
    r = cli("plot", "activations", "--out", str(out), "--impl", impl)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 1000 and height > 400


def test_plot_bad_output_is_one_line_and_writes_nothing(cli, tmp_path):
    r = cli("plot", "activations", "--out", str(tmp_path / "missing" / "a.png"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "does not exist" in r.stderr
    r = cli("plot", "activations", "--out", str(tmp_path / "a.jpg"))
    assert r.returncode == 2 and ".png" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_summary_of_a_run_folder_refuses_model_flags_it_would_ignore(cli, tmp_path):
    r = cli("train", "--dataset", "iris", "--epochs", "1", "--out", str(tmp_path), env={"OMP_NUM_THREADS": "1"})
    folder = r.stdout.strip().splitlines()[-1].split("run folder: ")[1]
    r = cli("summary", folder, "--hidden", "5", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 2 and "drop --hidden" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_plot_onto_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, capsys):
    """A real full tmpfs: the PNG is never left half-written or as a temporary beside the filler."""
    from conftest import fill, one_line_error, tmpfs

    with tmpfs(tmp_path, "64k") as disk:
        fill(disk, 4 << 10)
        err = one_line_error(capsys, "plot", "activations", "--out", str(disk / "act.png"))
        assert "no space left on device" in err and str(disk / "act.png") in err, err
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


@pytest.mark.parametrize("delay", [0.3, 1.0])
def test_sigterm_during_plot_leaves_a_whole_png_or_none(tmp_path, delay):
    """A real ``mlplab plot`` sent SIGTERM at some moment: exit 0 with a whole PNG, or 143 with one line and no
    PNG and no temporary; never a traceback."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ONE_THREAD

    out = tmp_path / "act.png"
    p = subprocess.Popen([sys.executable, "-m", "mlplab", "plot", "activations", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**__import__("os").environ, "MPLBACKEND": "Agg", **ONE_THREAD})
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert p.returncode in (0, 143, -signal.SIGTERM), (p.returncode, err)  # before Python's handler: killed
    assert not list(tmp_path.glob(".*.tmp"))
    if out.exists():
        data = out.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND", "a PNG cut short"
