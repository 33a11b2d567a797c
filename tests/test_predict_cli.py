"""mlplab train --data / predict / evaluate on real tables, in real subprocesses (and in-process where speed
matters), and a property: malformed tables always end in exit 2 with one line and no run folder."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ONE_THREAD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyarrow")

from mlplab.cli.main import main  # noqa: E402


def test_bank_train_predict_evaluate_in_subprocesses(tables, tmp_path, cli):
    data = tables / "bank-full.csv"
    r = cli("train", "--data", str(data), "--target", "y", "--epochs", "2", "--lr", "0.002", "--hidden", "64", "--out",
            str(tmp_path / "runs"), "--quiet", cwd=tmp_path, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1].removeprefix("run folder: "))
    assert folder.name.endswith("-bank-full")
    for name in ("columns.md", "metrics.md", "confusion.png", "data.json", "model.safetensors"):
        assert (folder / name).is_file(), name
    assert "task: binary (target y has 2 values: N, Y)" in (folder / "columns.md").read_text()
    m = json.loads((folder / "metrics.json").read_text())
    assert m["test"]["rows"] == 9043 and m["test"]["positive_class"] == "Y" and m["test_roc_auc"] > 0.85
    assert m["early_stopping"]["monitor"] == "val_accuracy"  # a large table stops early on accuracy by default
    assert m["test_roc_auc"] == pytest.approx(m["test"]["roc_auc"], abs=1e-6)  # per epoch = the report's

    new = tmp_path / "new.csv"  # the first rows without the target, an id column and an extra column
    with open(data, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))[:20]
    with open(new, "w", newline="") as f:
        w = csv.DictWriter(f, ["id", *(k for k in rows[0] if k != "y"), "note"])
        w.writeheader()
        for i, row in enumerate(rows):
            w.writerow({"id": i, **{k: v for k, v in row.items() if k != "y"}, "note": "x"})
    r = cli("predict", str(folder), "--data", str(new), "--out", str(tmp_path / "p.csv"), "--proba", "--keep", "id",
            cwd=tmp_path, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert "ignored 2 column(s) the run was not trained with: id, note" in r.stderr
    with open(tmp_path / "p.csv") as f:
        out = list(csv.DictReader(f))
    assert list(out[0]) == ["id", "prediction", "proba_N", "proba_Y"] and len(out) == 20
    assert {o["prediction"] for o in out} <= {"N", "Y"}
    assert all(abs(float(o["proba_N"]) + float(o["proba_Y"]) - 1) < 1e-6 for o in out)

    r = cli("evaluate", str(folder), "--data", str(data), "--out", str(tmp_path / "ev"), cwd=tmp_path, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert ev["rows"] == 45211 and ev["roc_auc"] > 0.85 and "roc_auc" in r.stdout
    assert np.sum(ev["confusion_matrix"]) == 45211

    bad = tmp_path / "bad.csv"
    bad.write_text("age,job,y\n30,admin.,maybe\n")
    r = cli("evaluate", str(folder), "--data", str(bad), cwd=tmp_path, env=ONE_THREAD)
    assert r.returncode == 2 and "labels never seen in training: maybe" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_diamonds_reports_dollars_and_predicts_prices(tables, tmp_path, capsys, one_torch_thread):
    small = tmp_path / "diamonds.csv"  # the first 3000 rows: seconds, not minutes
    small.write_text("".join((tables / "diamonds.csv").read_text().splitlines(keepends=True)[:3001]))
    assert main(["train", "--data", str(small), "--target", "price", "--epochs", "15", "--hidden", "64,64", "--out",
                 str(tmp_path / "runs"), "--quiet"]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run folder: "))
    m = json.loads((folder / "metrics.json").read_text())["test"]
    assert 50 < m["mae"] < m["rmse"] < 2000 and m["r2"] > 0.5  # dollars, not standardised units
    assert main(["predict", str(folder), "--data", str(small), "--out", str(tmp_path / "p.csv")]) == 0
    prices = np.loadtxt(tmp_path / "p.csv", skiprows=1)
    assert prices.shape == (3000,) and 200 < np.median(prices) < 5000
    assert main(["evaluate", str(folder), "--data", str(small)]) == 0
    assert "rmse" in capsys.readouterr().out


def test_titanic_leak_is_refused_then_allowed_or_dropped(tables, tmp_path, capsys):
    args = ["train", "--data", str(tables / "titanic.csv"), "--target", "survived", "--epochs", "1",
            "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "column 'alive' relabels the target one to one" in err and "--drop alive" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert main(args + ["--drop", "alive"]) == 0


# --- malformed tables: exit 2, one line, no run folder ---------------------------------------------------

def base_table(n: int, draw) -> list[list[str]]:
    rows = [["a", "b", "c", "y"]]
    for i in range(n):
        rows.append([f"{draw(st.floats(-100, 100, allow_nan=False)):.3f}", str(i % 7), draw(st.sampled_from("uvw")),
                     "yes" if i % 2 else "no"])
    return rows


def text(rows) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode()


@st.composite
def malformed(draw):
    """(file bytes, target) for a table that must be refused, and what went wrong."""
    rows = base_table(draw(st.integers(12, 40)), draw)
    kind = draw(st.sampled_from(["ragged", "text-in-numbers", "useless-columns", "one-class", "dup-header",
                                 "non-utf8", "empty", "header-only", "no-target", "one-row", "leak"]))
    i = draw(st.integers(1, len(rows) - 1))
    target = "y"
    if kind == "ragged":
        rows[i] = rows[i] + ["extra"] * draw(st.integers(1, 3)) if draw(st.booleans()) else rows[i][:-1]
    elif kind == "text-in-numbers":
        rows[i][0] = draw(st.sampled_from(["abc", "1.2.3", "--", "n/a?", "x1"]))
    elif kind == "useless-columns":
        const = draw(st.sampled_from(["", "5", "k"]))
        rows = [r[:3] + [r[3]] if j == 0 else [const, const, const, r[3]] for j, r in enumerate(rows)]
    elif kind == "one-class":
        rows = [r if j == 0 else r[:3] + ["same"] for j, r in enumerate(rows)]
    elif kind == "dup-header":
        rows[0][draw(st.integers(0, 2))] = draw(st.sampled_from(["a", "b", "c", "y"]))
        rows[0] = rows[0] if len(set(rows[0])) < 4 else ["a", "a", "c", "y"]
    elif kind == "one-row":
        rows = rows[:2]
    elif kind == "leak":
        labels = draw(st.sampled_from([("0", "1"), ("dead", "alive"), ("x", "z")]))
        rows = [r + ["leak"] if j == 0 else r + [labels[r[3] == "yes"]] for j, r in enumerate(rows)]
    elif kind == "no-target":
        target = draw(st.sampled_from(["Y", "target", "label", " "]))
    data = text(rows)
    if kind == "non-utf8":
        cut = data.index(b"\n") + 1 + draw(st.integers(0, len(data) - data.index(b"\n") - 3))
        cut = data.rindex(b",", 0, cut) + 1 if b"," in data[:cut] else cut
        data = data[:cut] + draw(st.sampled_from([b"\xff", b"\xe9", b"caf\xe9", b"\x80\x81"])) + data[cut:]
    elif kind == "empty":
        data = b""
    elif kind == "header-only":
        data = data[:data.index(b"\n") + 1]
    return data, target, kind


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=malformed())
def test_malformed_tables_exit_2_with_one_line_and_no_run_folder(case, capsys):
    data, target, kind = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(data)
        code = main(["train", "--data", str(path), "--target", target, "--epochs", "1", "--out", str(Path(tmp) / "runs"),
                     "--quiet"])
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("mlplab: error:")]
        assert code == 2, (kind, data[:200], err)
        assert len(errors) == 1 and "Traceback" not in err, (kind, err)
        assert not (Path(tmp) / "runs").exists() or not any((Path(tmp) / "runs").iterdir()), kind


def test_a_separate_test_file_and_notices(tables, tmp_path, capsys):
    lines = (tables / "penguins.csv").read_text().splitlines(keepends=True)
    (tmp_path / "train.csv").write_text("".join(lines[:1] + lines[1::2]))
    (tmp_path / "test.csv").write_text("".join(lines[:1] + lines[2::2]))
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--target",
                 "species", "--epochs", "3", "--hidden", "16", "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "mlplab: note: task: multiclass (target species has 3 values: Adelie, Chinstrap, Gentoo)" in err
    m = json.loads((Path(out.strip().splitlines()[-1].removeprefix("run folder: ")) / "metrics.json").read_text())
    assert m["test"]["rows"] == len(lines[2::2])


def test_with_a_test_file_every_labelled_row_of_data_trains_or_validates(tables, tmp_path, capsys):
    """--test FILE: no part of --data is held out as a test set; the report says how many rows did what."""
    lines = (tables / "titanic.csv").read_text().splitlines(keepends=True)
    (tmp_path / "train.csv").write_text("".join(lines[:1] + lines[1:701]))
    (tmp_path / "test.csv").write_text("".join(lines[:1] + lines[701:]))
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--target",
                 "survived", "--drop", "alive", "--epochs", "2", "--hidden", "16", "--baselines", "none",
                 "--out", str(tmp_path / "runs")]) == 0
    out, _ = capsys.readouterr()
    m = json.loads((Path(out.strip().splitlines()[-1].removeprefix("run folder: ")) / "metrics.json").read_text())
    rows = m["rows"]
    assert rows["train"] + rows["val"] == 700 and rows["test"] == len(lines) - 701    # nothing of --data tested
    assert rows["val"] == round(0.15 * 700)                                            # validation: 15 % of it
    assert f"rows: {rows['train']:,} trained · {rows['val']:,} validated · {rows['test']:,} tested" in out
