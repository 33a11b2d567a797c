"""Dates and times in a table's cells as numbers: year, month, day, weekday, hour, minute and the day count.

A text column is read as dates when (nearly) every non-missing training cell has one ``FORMATS`` spelling:
ISO (``2024-03-05``, ``2024-03-05 14:30:00``, ``2024-03-05T14:30``, mixed freely) or a slashed date. A
slashed date is month first (``03/05/2024`` is 5 March, pandas' and the US reading) unless some cell puts a
day above 12 first (``25/03/2024``), which makes the column day first; a column with both is not dates.
Columns pyarrow already holds as dates or timestamps (a Parquet file, a CSV's ISO cells) are read as they are.

Each part is then a numeric column like any other (mlplab.data.columns): ``days`` is the count of days since
1970-01-01 (the time axis: a trend), the others are the calendar (seasons, weekly cycles). Hour and minute
are parts only when some training cell has a time other than midnight. A cell that is not a date is missing.

>>> parts(pa.chunked_array([["2024-03-05 14:30:00"]]), "iso", ["year", "weekday", "hour"])   # doctest: +SKIP
{'year': array([2024.]), 'weekday': array([1.]), 'hour': array([14.])}
"""

from __future__ import annotations

import numpy as np

ISO = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
FORMATS = {"iso": ISO, "month-first": ("%m/%d/%Y",), "day-first": ("%d/%m/%Y",)}
LOOKS = {"iso": r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$", "slashed": r"^\d{1,2}/\d{1,2}/\d{4}$"}
PARTS = ("year", "month", "day", "weekday", "hour", "minute", "days")
MIN_SHARE = 0.99  # of the non-missing training cells that must be dates


def date_format(col) -> str | None:
    """How the training cells ``col`` (a pyarrow column) spell dates: ``"native"`` (a date or timestamp
    type), a ``FORMATS`` key, or None when the column is not dates."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_temporal(col.type) and not pa.types.is_time(col.type) and not pa.types.is_duration(col.type):
        return "native"
    if not pa.types.is_string(col.type) or col.null_count == len(col):
        return None
    cells = len(col) - col.null_count
    for look, pattern in LOOKS.items():
        if (pc.sum(pc.match_substring_regex(col, pattern)).as_py() or 0) < MIN_SHARE * cells:
            continue
        if look == "iso":
            return "iso" if _valid(timestamps(col, "iso")) >= MIN_SHARE * cells else None
        fields = pc.extract_regex(col.drop_null(), r"^(?P<a>\d+)/(?P<b>\d+)/")
        first, second = (pc.cast(pc.struct_field(fields, [i]), pa.int64()) for i in (0, 1))
        day_first, month_first = (pc.any(pc.greater(x, 12)).as_py() or False for x in (first, second))
        if day_first and month_first:
            return None
        fmt = "day-first" if day_first else "month-first"
        return fmt if _valid(timestamps(col, fmt)) >= MIN_SHARE * cells else None
    return None


def timestamps(col, fmt: str):
    """The cells as pyarrow timestamp[s] (missing where a cell is not a date in ``fmt``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_temporal(col.type):
        return pc.cast(col, pa.timestamp("s", getattr(col.type, "tz", None)), safe=False)  # whole seconds
    if fmt == "native":  # dates in training, text here: the ISO spellings
        fmt = "iso"
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    tried = [pc.strptime(col, format=f, unit="s", error_is_null=True) for f in FORMATS[fmt]]
    return tried[0] if len(tried) == 1 else pc.coalesce(*tried)


def timed(col, fmt: str) -> bool:
    """Whether some cell has a time of day other than midnight (then hour and minute are parts)."""
    seconds = _seconds(timestamps(col, fmt))
    return bool(np.any(np.mod(seconds[~np.isnan(seconds)], 86400) != 0))


def parts(col, fmt: str, names) -> dict[str, np.ndarray]:
    """The ``names`` parts (of ``PARTS``) of each cell, float64 with NaN where a cell is missing or not a date.
    ``weekday``: Monday 0 … Sunday 6; ``days``: days since 1970-01-01."""
    import pyarrow.compute as pc

    ts = timestamps(col, fmt)
    out = {}
    for name in names:
        if name == "days":
            out[name] = np.floor(_seconds(ts) / 86400)
            continue
        f = {"weekday": pc.day_of_week}.get(name) or getattr(pc, name)
        out[name] = np.array(f(ts).cast("float64").to_numpy(zero_copy_only=False), np.float64)
    return out


def _seconds(ts) -> np.ndarray:
    import pyarrow as pa

    return np.asarray(ts.cast(pa.int64()).cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)


def _valid(ts) -> int:
    return len(ts) - ts.null_count
