"""Numbers written with units or separators read as numbers: ``1,234``, ``12.34 €``, ``$1,234.50``, ``45 %``,
``1 234``, ``1.234,5 kg``.

A text column is numbers with units when (nearly) every non-missing training cell is one number with one
optional unit, the column has one unit at most, and some cell has a unit or a separator (text of plain
numbers, such as codes ``"07"``, is left as it is). A unit is a currency sign before or after the number
(``$``, ``€``, ``£``), a three-letter code and a space before it (``USD 12``), or a short word or sign after
it (``%``, ``kg``, ``km/h``). Letters glued before the digits (``s12``, ``N14228``) are codes, not units.

The decimal mark is decided once per column, from the training cells:

- ``,`` when some cell can only be read that way: ``1,5``, ``12,75 €``, ``1.234,50`` (a comma followed by
  other than 3 digits, or after a dot-grouped number);
- otherwise ``.``: ``1,234`` and ``1,234,567`` are thousands (the English reading of the ambiguous
  ``1,234``; a column of such cells is said to be read so in its report line).

Thousands are grouped by 3 with the other mark, a space (also no-break or thin) or an apostrophe
(``1'234``). A number may have an exponent (``1.5e3 kg``): it is read as the number it is, so one beyond
float32's range is refused as a plain number is (mlplab.data.cells.check_finite), never dropped as missing.
Percent cells keep their number (``45 %`` → 45). A cell that does not parse is missing.
"""

from __future__ import annotations

import numpy as np

SPACES = " \u00a0\u202f'"
PRE = r"(?P<pre>\p{Sc}|[A-Z]{3} )?"
POST = r"(?P<post>\p{Sc}|%|‰|°?[^\d\s+\-.,'()]{1,3}(?:/[^\d\s+\-.,'()]{1,2})?|[²³])?"
MIN_SHARE = 0.99  # of the non-missing training cells that must parse


def pattern(decimal: str) -> str:
    """The RE2 pattern of one cell with ``decimal`` as its decimal mark (``.`` or ``,``)."""
    group, point = ("," if decimal == "." else r"\."), "\\" + decimal
    sep = f"[{group}{SPACES}]"
    number = rf"(?:\d{{1,3}}(?:{sep}\d{{3}})+(?:{point}\d+)?|\d+(?:{point}\d+)?|{point}\d+)(?:[eE][+-]?\d+)?"
    return rf"^(?P<s1>[+-]?){PRE}\s?(?P<s2>[+-]?)(?P<num>{number})\s?{POST}$"


def unit_format(col) -> tuple[str, str] | None:
    """(decimal mark, unit or "") when the training cells ``col`` (a pyarrow text column) are numbers with
    units, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(col.type) or col.null_count == len(col):
        return None
    cells = col.drop_null()
    parsed = {d: pc.extract_regex(cells, pattern(d)) for d in (".", ",")}
    counts = {d: len(p) - p.null_count for d, p in parsed.items()}
    decimal = "," if counts[","] > counts["."] else "."  # a tie: every cell reads both ways, ``1,234`` is 1234
    if counts[decimal] < MIN_SHARE * len(cells):
        return None
    fields = parsed[decimal]
    units = set()
    for field in ("pre", "post"):
        units |= set(pc.unique(pc.struct_field(fields, [_FIELDS.index(field)])).to_pylist()) - {None, ""}
    units = {u.strip() for u in units}
    plain = pc.match_substring_regex(cells, r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")
    marked = pc.any(pc.and_(pc.is_valid(fields), pc.invert(plain))).as_py()  # a cell with a separator
    if len(units) > 1 or (not units and not marked):  # plain numbers (and a typo: cells.check_numbers names it)
        return None                                   # stay text, as the user has them
    return decimal, units.pop() if units else ""


def numbers(col, decimal: str) -> np.ndarray:
    """The cells as float64, NaN where missing or not a number with a unit (numbers pass as they are)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return np.array(col.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    fields = pc.extract_regex(pc.cast(col, pa.string()), pattern(decimal))
    signs = [pc.struct_field(fields, [_FIELDS.index(s)]) for s in ("s1", "s2")]
    number = pc.struct_field(fields, [_FIELDS.index("num")])
    group = "," if decimal == "." else r"\."
    number = pc.replace_substring_regex(number, f"[{group}{SPACES}]", "")
    if decimal == ",":
        number = pc.replace_substring(number, ",", ".")
    negative = pc.or_(pc.equal(signs[0], "-"), pc.equal(signs[1], "-"))
    x = np.array(pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    flip = np.asarray(pc.fill_null(negative, False).to_numpy(zero_copy_only=False), bool)
    x[flip] *= -1
    return x


_FIELDS = ("s1", "pre", "s2", "num", "post")  # the pattern's named groups, in order
