"""CSV for spreadsheets: text cells that a spreadsheet would run as a formula are neutralised (OWASP).

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets when the CSV is opened there: ``=HYPERLINK(...)`` leaks data, ``=cmd|' /C calc'!A0`` runs a
program (DDE). OWASP's "CSV Injection" page advises prefixing such cells with a single quote, which spreadsheets
show as text. Only text columns are touched, and a text cell that is a plain number (``-1.5``, ``+3``) stays as
it is: numbers stay numbers. ``--raw-csv`` writes every cell verbatim (for programs, not spreadsheets, that read
the file and need the exact text back).
"""

from __future__ import annotations

import re
from pathlib import Path

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula; else unchanged."""
    if text.startswith(TRIGGERS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def neutralise(table):
    """The pyarrow ``table`` with every text column's formula cells neutralised (and the column names too)."""
    import pyarrow as pa

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = [None if v is None else neutralise_cell(v) for v in column.to_pylist()]
            column = pa.array(values, column.type)
        columns.append(column)
    return pa.table(columns, names=[neutralise_cell(n) for n in table.column_names])


def write_csv(table, path: str | Path, *, raw: bool = False) -> None:
    """Write ``table`` as CSV to ``path``, neutralised for spreadsheets unless ``raw``."""
    from pyarrow import csv as pcsv

    pcsv.write_csv(table if raw else neutralise(table), path)
