"""Read a table from a file: CSV/TSV (delimiter sniffed), Parquet, ``.npy``/``.npz``, into a pyarrow Table.

No Python object per cell: pyarrow parses, strings stay Arrow strings, numbers become numpy arrays later
(mlplab.data.columns). A CSV is read a block at a time (mlplab.data.csv_stream), in little more memory than the
table itself. Then every format gets the same cleaning: names and text cells trimmed, NA markers made missing,
text columns of numbers made numbers. What a file gets wrong is one ValueError naming the file and, where it
has one, the line and column: a missing or empty file, a header without rows, duplicated header names, bytes
that are not UTF-8, a row with too many or too few cells.

>>> t = read_table("diamonds.csv")          # doctest: +SKIP
>>> t.num_rows, t.column_names[:3]          # doctest: +SKIP
(53940, ['carat', 'cut', 'color'])
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from mlplab.data.csv_stream import read_csv, release_memory

# Cells read as missing (after trimming spaces); --na-values adds to them.
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
TEXT = (".csv", ".tsv", ".txt", ".tab", ".dat")
SUFFIXES = TEXT + (".parquet", ".pq", ".npy", ".npz")

def read_table(path: str | Path, na_values: tuple[str, ...] | list[str] = ()):
    """The table in ``path`` as a ``pyarrow.Table``; header names and string cells trimmed of spaces, the
    ``NA_VALUES`` (plus ``na_values``) missing, text columns that hold only numbers made numbers."""
    import pyarrow as pa

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} not found; check the --data path")
    if path.is_dir():
        raise ValueError(f"data path {path} is a folder; pass a file (.csv, .tsv, .parquet, .npy, .npz)")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"data file {path} has suffix {suffix or '(none)'!r}; mlplab reads "
                         f"{', '.join(SUFFIXES)}")
    if not path.is_file():  # a FIFO or a device has no size: it would read as "empty", or block forever
        raise ValueError(f"data path {path} is not a regular file (a pipe, socket or device); save the rows to a "
                         "file and pass that")
    if path.stat().st_size == 0:
        raise ValueError(f"data file {path} is empty; it needs a header row and at least one row of data")
    nas = tuple(NA_VALUES) + tuple(str(v).strip() for v in na_values)
    if suffix in (".npy", ".npz"):
        table = _read_numpy(path)
    elif suffix in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        table = read_csv(path, nas)
    names = [str(n).strip() or f"column{i + 1}" for i, n in enumerate(table.column_names)]
    seen = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    dups = [n for n, c in seen.items() if c > 1]
    if dups and all(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", n) for n in names):  # ``0,0,1``: data
        raise ValueError(f"data file {path} has no header row: its first line ({', '.join(names[:8])}) is numbers; "
                         "add a first line of column names (e.g. x1,x2,y)")
    if dups:
        raise ValueError(f"data file {path} has duplicated column names {dups}; every column needs its own name")
    table = table.rename_columns(names)
    if table.num_rows == 0:
        raise ValueError(f"data file {path} has a header ({', '.join(names[:8])}) but no rows of data")
    table = pa.table([_clean(table.column(i), nas) for i in range(table.num_columns)], names=names)
    release_memory()  # the parser's blocks
    return table




def _clean(column, nas: tuple[str, ...]):
    """Strings trimmed, NA markers made missing, and a text column whose every cell is a number made numeric."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    column = as_number(column)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    column = pc.utf8_trim_whitespace(column)
    column = pc.utf8_trim_whitespace(pc.replace_substring_regex(column, r'^"(.*)"$', r"\1"))  # `a, "b"`
    column = pc.if_else(pc.is_in(column, value_set=pa.array(list(nas), pa.string())), None, column)
    for kind in (pa.int64(), pa.float64()):
        try:
            return column.cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


def as_number(column):
    """Decimal, duration and time-of-day columns as float64 (the value; seconds; seconds since midnight);
    anything else as it is. Dates and timestamps stay: mlplab.data.dates splits them into parts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_decimal(t):
        return column.cast(pa.float64())
    if pa.types.is_duration(t) or pa.types.is_time(t):
        per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
        raw = column.cast(pa.int64() if pa.types.is_duration(t) or t.bit_width == 64 else pa.int32())
        return pc.divide(raw.cast(pa.float64()), per_second)
    return column


def _read_parquet(path: Path):
    """A Parquet file without pandas' unnamed index columns (``__index_level_0__``: the row order, never a
    feature); list, struct and map columns are refused by name (mlplab reads flat columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path, pre_buffer=False)
        schema = f.schema_arrow
        nested = [f"{field.name} ({field.type})" for field in schema if pa.types.is_nested(field.type)]
        if nested:
            raise ValueError(f"data file {path} has column(s) holding lists, structs or maps: {', '.join(nested[:5])}; "
                             "mlplab reads flat columns (numbers, text, dates): flatten them into columns of their "
                             "own, or write the file without them")
        keep = [name for name in schema.names if not re.fullmatch(r"__index_level_\d+__", name)]
        batches = list(f.iter_batches(batch_size=65536, columns=keep))
        return pa.Table.from_batches(batches, schema=pa.schema([schema.field(n) for n in keep]))
    except (pa.ArrowInvalid, OSError) as e:
        raise ValueError(f"data file {path} is not a readable Parquet file: {str(e).splitlines()[0]}") from None


def _read_numpy(path: Path):
    """``.npy``: a 2-D numeric array, columns named c0, c1, ...; ``.npz``: one 1-D array per column, by name."""
    import pyarrow as pa

    if path.suffix.lower() == ".npy":
        check_npy_header(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        pickled = "pickle" in str(e).lower() or "object" in str(e).lower()
        raise ValueError(f"data file {path} cannot be read without unpickling ({e}); mlplab never unpickles files: "
                         "save plain numeric or string arrays" if pickled else
                         f"data file {path} is damaged or truncated: {e}") from None
    except zipfile.BadZipFile as e:  # an .npz is a zip archive: cut short, it loses its index at the end
        raise ValueError(f"data file {path} is truncated or damaged: it is not a whole .npz (zip) archive ({e}); "
                         "copy or save it again") from None
    except (OSError, EOFError, MemoryError) as e:
        raise ValueError(f"data file {path} is not a readable numpy file: {type(e).__name__}: {e}") from None
    arrays = [loaded] if isinstance(loaded, np.ndarray) else [loaded[k] for k in loaded.files]
    odd = [str(a.dtype) for a in arrays if a.dtype.kind not in "biufUSM"]
    if odd:
        raise ValueError(f"data file {path} holds {odd[0]} values; a table's columns are real numbers or "
                         "text (complex numbers: save the real and imaginary parts as two columns)")
    if isinstance(loaded, np.ndarray):
        if loaded.ndim != 2:
            raise ValueError(f"data file {path} holds an array of shape {loaded.shape}; a table is 2-D (rows, "
                             "columns); its columns are named c0, c1, ...")
        return pa.table({f"c{j}": loaded[:, j] for j in range(loaded.shape[1])})
    with loaded:
        arrays = {k: loaded[k] for k in loaded.files}
    bad = {k: a.shape for k, a in arrays.items() if a.ndim != 1}
    if bad or len({len(a) for a in arrays.values()}) > 1:
        raise ValueError(f"data file {path}: an .npz table holds one 1-D array per column, all of one length; "
                         f"got shapes {({k: a.shape for k, a in arrays.items()})}")
    return pa.table(arrays)


def check_npy_header(path: Path) -> None:
    """An .npy file's header must describe the bytes that follow: a shape claiming more data than the file
    holds (a truncated file, or a damaged header asking for terabytes) is refused before anything is allocated."""
    from numpy.lib import format as npformat

    try:
        with open(path, "rb") as f:
            version = npformat.read_magic(f)
            read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
            shape, _, dtype = read(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise ValueError(f"data file {path} is not a readable .npy file: its header does not parse ({e})") from None
    if dtype.hasobject:
        raise ValueError(f"data file {path} holds Python objects, which cannot be read without unpickling; mlplab "
                         "never unpickles files: save plain numeric or string arrays")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = path.stat().st_size - offset
    if need > have:
        raise ValueError(f"data file {path} is truncated or damaged: its header claims shape {shape} of {dtype} "
                         f"({need:,} bytes) but the file holds {have:,} bytes of data")


def is_table(x) -> bool:
    """A pyarrow Table or a pandas DataFrame (what Schema.inputs sends through a run's column preprocessor)."""
    import pyarrow as pa

    pd = sys.modules.get("pandas")  # never imported here: a DataFrame means pandas is loaded already
    return isinstance(x, pa.Table) or (pd is not None and isinstance(x, pd.DataFrame))


def to_arrow(frame):
    """A pyarrow Table from a pyarrow Table or a pandas DataFrame (the index is not a column)."""
    import pyarrow as pa

    if not is_table(frame):
        raise TypeError(f"expected a pyarrow Table or a pandas DataFrame; got {type(frame).__name__}")
    if isinstance(frame, pa.Table):
        return frame
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"the DataFrame has duplicated column names {sorted({n for n in names if names.count(n) > 1})}")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.table([_clean(c, NA_VALUES) for c in table.columns], names=names)
