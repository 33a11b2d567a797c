"""CSV written for spreadsheets (mlplab.runs.safe_csv): formula cells neutralised with a leading quote (OWASP),
numbers left as numbers, --raw-csv verbatim; through predict's real CSV, --keep columns and class names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")

from mlplab.cli.main import main  # noqa: E402
from mlplab.runs.safe_csv import TRIGGERS, neutralise, neutralise_cell, write_csv  # noqa: E402

ATTACKS = ["=cmd|' /C calc'!A0", "@SUM(A1:A2)", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "\tx", "\r=1",
           "=1", "@", "-", "+"]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_cells_get_a_leading_quote(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-1.5", "+3", "-0", "1e5", "-2e-3", "plain", "", "a=b", "'=1", " =1"])
def test_numbers_and_plain_text_stay_as_they_are(cell):
    assert neutralise_cell(cell) == cell


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=12))
def test_no_neutralised_cell_starts_with_a_trigger(text):
    out = neutralise_cell(text)
    assert out == text or (out == "'" + text and text.startswith(TRIGGERS))
    if out.startswith(TRIGGERS):  # left alone only when it is a plain number
        float(out)


def test_only_text_columns_change_and_numbers_stay_numbers(tmp_path):
    table = pa.table({"id": ["=1+1", "ok", None], "n": [-1.0, 2.0, 3.0], "k": pa.array([-5, 6, 7], pa.int64())})
    write_csv(table, tmp_path / "safe.csv")
    write_csv(table, tmp_path / "raw.csv", raw=True)
    with open(tmp_path / "safe.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["'=1+1", "ok", ""] and [r["n"] for r in rows] == ["-1", "2", "3"]
    assert [r["k"] for r in rows] == ["-5", "6", "7"]
    assert "=1+1" in (tmp_path / "raw.csv").read_text() and "'=1+1" not in (tmp_path / "raw.csv").read_text()
    assert neutralise(pa.table({"=x": [1]})).column_names == ["'=x"]


def test_predict_neutralises_kept_ids_and_class_names(tmp_path, capsys, one_torch_thread):
    attacks = [a for a in ATTACKS if not a[0].isspace()]  # the reader trims a cell's surrounding whitespace
    ids = (attacks * 10)[:60]
    lines = ["id,a,b,y"] + [f"\"{i.replace(chr(34), chr(34) * 2)}\",{k % 7},{k % 3},{'=up' if k % 7 > 3 else '@down'}"
                            for k, i in enumerate(ids)]
    data = tmp_path / "t.csv"
    data.write_text("\n".join(lines) + "\n")
    assert main(["train", "--data", str(data), "--target", "y", "--epochs", "1", "--hidden", "4", "--out",
                 str(tmp_path / "runs"), "--quiet", "--device", "cpu", "--drop", "id"]) == 0
    run = next((tmp_path / "runs").iterdir())
    assert main(["predict", str(run), "--data", str(data), "--out", str(tmp_path / "p.csv"), "--keep", "id",
                 "--proba"]) == 0
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "prediction", "proba_=up", "proba_@down"]  # headers: mlplab's own names
    cells = [c for row in rows[1:] for c in row[:2]]
    assert not any(c.startswith(TRIGGERS) for c in cells), cells[:6]
    assert {r[0] for r in rows[1:]} == {"'" + a for a in attacks}
    assert all(float(p) >= 0 for r in rows[1:] for p in r[2:])  # probabilities stay numbers
    capsys.readouterr()
    assert main(["predict", str(run), "--data", str(data), "--out", str(tmp_path / "raw.csv"), "--keep", "id",
                 "--raw-csv"]) == 0
    with open(tmp_path / "raw.csv", newline="") as f:
        assert {r[0] for r in list(csv.reader(f))[1:]} == set(attacks)
