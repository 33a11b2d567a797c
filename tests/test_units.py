"""mlplab.data.units: numbers written with units or separators, here those with an exponent (``1.5e3 kg``), and
the one-line refusal of one beyond float32's range, the same as a plain number's."""

from __future__ import annotations

import pytest

from conftest import one_line_error

pa = pytest.importorskip("pyarrow")


def weights(path, big: str, unit: str = " kg", rows: int = 200):
    """A CSV of ``rows`` rows whose column w is "N kg" (or N ``unit``), ``big`` on line 7."""
    lines = ["w,a,y"]
    for i in range(rows):
        lines.append(f"{big if i == 5 else f'{i % 90 + 1}{unit}'},{i % 7},{'yes' if i % 3 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_number_with_units_and_an_exponent_is_that_number():
    from mlplab.data.units import numbers, unit_format

    for cells, values, decimal in [(["1.5e3 kg", "2 kg", "-3E-2 kg"], [1500, 2, -0.03], "."),
                                   (["1,5e3 kg", "2 kg", "0,25 kg"], [1500, 2, 0.25], ",")]:
        col = pa.chunked_array([cells * 10])
        assert unit_format(col) == (decimal, "kg")
        assert numbers(col, decimal)[:3].tolist() == values


def test_text_of_plain_numbers_with_exponents_stays_text():
    from mlplab.data.units import unit_format

    assert unit_format(pa.chunked_array([["1e3", "2E5", "7"] * 10])) is None


@pytest.mark.parametrize("cell,shown,what", [("1e300 kg", "(1e+300)", "beyond float32's range"),
                                             ("-4.5E39 kg", "(-4.5e+39)", "beyond float32's range"),
                                             ("1e400 kg", "(inf)", "infinite")])
def test_a_number_with_units_beyond_float32_by_its_exponent_is_refused_as_a_plain_one(tmp_path, capsys, cell,
                                                                                        shown, what):
    """Was: the cell did not parse, so it became a missing cell and the run trained without a word."""
    plain = one_line_error(capsys, "train", "--data", str(weights(tmp_path / "p.csv", cell.removesuffix(" kg"), "")),
                           "--target", "y", "--out", str(tmp_path / "runs"))
    line = one_line_error(capsys, "train", "--data", str(weights(tmp_path / "t.csv", cell)), "--target", "y",
                          "--out", str(tmp_path / "runs"))
    assert f"t.csv, line 7, column 'w': {cell!r} {shown} is {what}" in line, line
    assert "rescale a column of huge values" in line and "rescale a column of huge values" in plain
    assert "p.csv, line 7, column 'w': " in plain and f"is {what}" in plain, plain
    assert not (tmp_path / "runs").exists()
