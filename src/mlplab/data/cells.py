"""A table's cells as numbers, column by column: what fitting and encoding (mlplab.data.columns) read, and the
inputs of an exported graph (mlplab.runs.export_table), which takes the cells before any statistic.

``cells(columns, table)`` gives a fitted ``Columns``' view of the rows: the numeric columns' raw numbers (NaN
where missing; ``numbers`` reads them: plain numbers, numbers with units, a part of a date, or a level's
target mean) and each categorical cell's position in its column's categories; ``encode_cells`` applies the
training statistics to them, the same float32 matrix ``Columns.transform`` makes from the table. Before any of
it, ``check_numbers`` names the cell that makes a column of numbers text (a typo, an unmarked NA).

>>> numeric, codes = cells(run.schema.columns, table)          # doctest: +SKIP
>>> x = encode_cells(run.schema.columns, numeric, codes)       # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np

from mlplab.data import dates, units
from mlplab.data.target import as_text

NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Inf|INF|infinity)$"


FLOAT32_MAX = float(np.finfo(np.float32).max)  # ~3.4e38: the network computes in float32


def where(source: str | None, row: int) -> str:
    """"t.csv, line 7" (a text file: its header is line 1), "t.parquet, row 6", or "row 5" of a table."""
    if source is None:
        return f"row {row}"
    text = source.lower().endswith((".csv", ".tsv", ".txt", ".tab", ".dat"))
    return f"{source}, line {row + 2}" if text else f"{source}, row {row + 1}"


def check_finite(table, source: str | None = None) -> None:
    """Numbers the network cannot take: inf, NaN (a file's missing cell is empty, not NaN) and values beyond
    float32's range (±3.4e38), in a column of numbers or of numbers with units (``1,000,...,000 kg``), refused
    naming the file's line (or row) and column: never clipped or imputed behind the user's back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in table.column_names:
        col = table.column(name)
        if col.null_count == len(col):
            continue
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            x = col.cast(pa.float64())
        elif pa.types.is_string(col.type) and huge_text(col) and (form := units.unit_format(col)) is not None:
            x = pa.array(units.numbers(col, form[0]), pa.float64(), from_pandas=True)  # NaN: missing (null)
        else:
            continue
        bad = pc.or_(pc.invert(pc.is_finite(x)), pc.greater(pc.abs(x), FLOAT32_MAX))
        if not pc.any(bad).as_py():
            continue
        row = pc.index(pc.fill_null(bad, False), True).as_py()
        value = x[row].as_py()
        what = "not a number (NaN)" if value != value else (
            "infinite (or a number too long even for float64)" if abs(value) == float("inf") else
            "beyond float32's range (±3.4e38) that the network computes in")
        shown = f"{col[row].as_py()!r} ({value:.3g})" if pa.types.is_string(col.type) else repr(value)
        raise ValueError(f"{where(source, row)}, column {name!r}: {shown} is {what}; mark missing cells as empty "
                         f"(or with --na-values), and rescale a column of huge values (a log, or other units)")


def huge_text(col) -> bool:
    """Whether a text column may hold a number beyond float32: a cell of 39 characters at least
    (``1,000,...,000 kg``) or with an exponent (``1e300 kg``). A cheap test before parsing units."""
    import pyarrow.compute as pc

    return pc.any(pc.or_(pc.greater_equal(pc.utf8_length(col), 39),
                         pc.match_substring_regex(col, r"\d[eE][+-]?\d"))).as_py()


def check_numbers(table, source: str | None = None) -> None:
    """A text column whose cells are mostly numbers holds a typo: name the column, the line and the cell.
    Then ``check_finite``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    check_finite(table, source)
    for name in table.column_names:
        col = table.column(name)
        if not pa.types.is_string(col.type) or col.null_count == len(col):
            continue
        is_number = pc.match_substring_regex(col, NUMBER)
        numbers, cells = pc.sum(is_number).as_py() or 0, len(col) - col.null_count
        if numbers >= 0.9 * cells and numbers < cells and units.unit_format(col) is None:  # ``1,234`` is no typo
            row = pc.index(pc.fill_null(is_number, True), False).as_py()
            raise ValueError(f"{where(source, row)}, column {name!r}: {col[row].as_py()!r} is not a number, though "
                             f"{numbers} of its {cells} cells are; fix the cell, or mark such cells missing "
                             f"with --na-values {col[row].as_py()!r}")


def cells(columns, table, log=None) -> tuple[np.ndarray, np.ndarray]:
    """The cells of ``table`` as numbers, before any statistic is applied (what an exported graph takes,
    mlplab.runs.export_table): numeric (N, numeric columns) float64 with NaN for missing, and codes
    (N, categorical columns) int64, each the position of the cell's text (``as_text``) in its column's
    ``categories``, len(categories) for "other" (rare, unseen, missing). Columns in ``columns.columns`` order
    within each kind. Notices (extra columns, unseen values) go to ``log``."""
    log = log or (lambda m: warnings.warn(m, stacklevel=4))
    columns.check_names(table.column_names, log)
    numeric, codes, other = [], [], {}
    for c in columns.columns:
        col = table.column(c.column)
        if c.kind == "numeric":
            numeric.append(numbers(c, col, columns.means.get(c.name)))
        else:
            idx, other[c.name] = codes_of(col, c.categories)
            codes.append(idx.astype(np.int64))
    log_other(other, log)
    n = table.num_rows
    return (np.stack(numeric, 1) if numeric else np.zeros((n, 0))), \
        (np.stack(codes, 1) if codes else np.zeros((n, 0), np.int64))


def encode_cells(columns, numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``cells``' arrays as float32 (N, width), as ``Columns.encode`` makes them from the table: numeric
    columns by ``Columns.scale_`` then the 0/1 missing indicator if any; categorical one-hot of the code."""
    out = np.zeros((len(numeric), columns.width), np.float32)
    j, k, m = 0, 0, 0
    for c in columns.columns:
        if c.kind == "numeric":
            x = np.array(numeric[:, k], np.float64)
            miss = columns.scale_(x, k)
            out[:, j] = x
            if c.indicator:
                out[:, j + 1] = miss
            k += 1
        else:
            out[np.arange(len(codes)), j + codes[:, m]] = 1.0
            m += 1
        j += c.width
    return out


def check_numeric(name: str, col) -> None:
    """A column numeric in training must hold numbers (or nothing) here."""
    import pyarrow as pa

    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type)):
        raise ValueError(f"column {name!r} was numeric in training but holds text here, such as "
                         f"{col.drop_null()[0].as_py()!r}")


def codes_of(col, categories: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """(each cell's position in ``categories``, len(categories) for "other" (rare, unseen, missing); how many
    non-missing cells held a value not in ``categories``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    index = pc.index_in(as_text(col), value_set=pa.array(categories, pa.string()))
    unseen = (len(col) - col.null_count) - (len(index) - index.null_count)
    return pc.fill_null(index, len(categories)).to_numpy(zero_copy_only=False), unseen


def log_other(other: dict[str, int], log) -> None:
    """One notice for the cells encoded as 'other' ({column: count}; columns with 0 left out)."""
    other = {n: v for n, v in other.items() if v}
    if other:
        log(f"{sum(other.values())} cells held values rare or unseen in training, encoded as 'other': "
            + ", ".join(f"{n} ({v})" for n, v in other.items()))


def numbers(column, col, means: np.ndarray | None = None) -> np.ndarray:
    """The cells ``col`` (a pyarrow column) as the numbers of the numeric ``column`` (a fitted Column): a fresh
    float64 array, NaN where missing or unreadable."""
    out = np.empty(len(col), np.float64)
    for start, x in number_blocks(column, col, means):
        out[start:start + len(x)] = x
    return out


def number_blocks(column, col, means: np.ndarray | None = None, rows: int = 1 << 16):
    """``(start, float64 array)`` for consecutive blocks of at most ``rows`` cells of ``col``, each a fresh
    writable array of ``column``'s numbers (its ``read``): "" the cells are numbers; ``units:<decimal mark>``
    numbers with units (mlplab.data.units); ``date:<format>:<part>`` a part of a date (mlplab.data.dates);
    ``means`` each level's target mean, ``means`` (levels + 1,) with the prior last (unseen, missing)."""
    import pyarrow as pa

    kind, _, how = column.read.partition(":")
    if kind == "":
        check_numeric(column.column, col)
    for start in range(0, len(col), rows):
        block = col.slice(start, rows)
        if kind == "":
            yield start, np.array(block.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
        elif kind == "units":
            yield start, units.numbers(block, how)
        elif kind == "date":
            fmt, _, part = how.partition(":")
            yield start, dates.parts(block, fmt, [part])[part]
        elif kind == "means":
            yield start, means[codes_of(block, column.levels)[0]]
        else:
            raise ValueError(f"column {column.name!r} is read as {column.read!r}, which this mlplab does not know")

