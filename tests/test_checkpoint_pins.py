"""Resume pins its data (mlplab.runs.checkpoint.fingerprint): a run resumes only on the very file it began with,
found by its absolute path from any working folder; a changed, moved or missing file is refused naming it."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

from mlplab.cli.main import main  # noqa: E402
from mlplab.runs.checkpoint import BLOCK, WHOLE, fingerprint  # noqa: E402


def rows(n: int = 80) -> list[str]:
    rng = random.Random(0)
    return [f"{rng.random():.3f},{rng.random():.3f},{rng.choice('xyz')},{rng.choice(['p', 'q'])}" for _ in range(n)]


CHANGES = {
    "scaled": lambda h, r: [h] + [",".join([str(float(x.split(",")[0]) * 10)] + x.split(",")[1:]) for x in r],
    "shuffled": lambda h, r: [h] + sorted(r),
    "re-categorised": lambda h, r: [h] + [x.replace(",x,", ",w,") for x in r],
    "wider": lambda h, r: [h + ",d"] + [x + ",1" for x in r],
    "one row more": lambda h, r: [h] + r + [r[0]],
    "one byte": lambda h, r: [h] + r[:-1] + [r[-1][:-1] + ("q" if r[-1][-1] == "p" else "p")],
}


@pytest.fixture
def started(tmp_path, monkeypatch, one_torch_thread):
    """A 1-epoch run of 3 (so it can resume) on t.csv given by a relative path from tmp_path/work."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "t.csv").write_text("\n".join(["a,b,c,y"] + rows()) + "\n")
    assert main(["train", "--data", "t.csv", "--target", "y", "--epochs", "1", "--hidden", "4", "--out", "runs",
                 "--quiet", "--device", "cpu", "--schedule", "none"]) == 0
    return next((work / "runs").iterdir()).resolve(), work / "t.csv"


def resume(run: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["train", "--resume", str(run), "--epochs", "2", "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("change", list(CHANGES))
def test_resume_refuses_a_changed_data_file_naming_it(started, capsys, change):
    run, data = started
    header, *body = data.read_text().splitlines()
    data.write_text("\n".join(CHANGES[change](header, body)) + "\n")
    code, err = resume(run, capsys)
    assert code == 2 and f"its --data file {data} changed" in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("how", ["deleted", "renamed"])
def test_resume_refuses_a_missing_data_file_naming_it(started, capsys, how):
    run, data = started
    if how == "deleted":
        data.unlink()
    else:
        data.rename(data.with_name("t2.csv"))
    code, err = resume(run, capsys)
    assert code == 2 and f"its --data file {data} is gone" in err, err


def test_resume_from_another_folder_reads_the_same_file_by_its_absolute_path(started, capsys, tmp_path):
    run, data = started
    os.chdir(tmp_path)  # t.csv is not here: the relative path would miss it
    code, err = resume(run, capsys)
    assert code == 0, err
    assert f'data = "{data}"' in (run / "config.toml").read_text()
    assert main(["predict", str(run), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0


def test_a_large_file_is_fingerprinted_by_sampled_blocks(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(WHOLE + 3 * BLOCK)
    before = fingerprint(big)
    with open(big, "r+b") as f:  # a byte in the last block
        f.seek(WHOLE + 3 * BLOCK - 1)
        f.write(b"\1")
    assert fingerprint(big) != before and fingerprint(big)["size"] == before["size"]
