"""Read a table from a file: CSV/TSV (delimiter sniffed), Parquet, ``.npy``/``.npz``, into a pyarrow Table.

No Python object per cell: pyarrow parses, strings stay Arrow strings, numbers become numpy arrays later
(mlplab.data.columns). A CSV is read a block at a time, each number column into one array, so reading takes
little more than the table itself (8 bytes a number), not the 2-3 times that pyarrow's ``read_csv`` holds
while it settles the types of the whole file. What a file gets wrong is one ValueError naming the file and, where it has one, the
line and column: a missing or empty file, a header without rows, duplicated header names, bytes that are not
UTF-8, a row with too many or too few cells.

>>> t = read_table("diamonds.csv")          # doctest: +SKIP
>>> t.num_rows, t.column_names[:3]          # doctest: +SKIP
(53940, ['carat', 'cut', 'color'])
"""

from __future__ import annotations

import csv
import mmap
import re
import sys
from pathlib import Path

import numpy as np

# Cells read as missing (after trimming spaces); --na-values adds to them.
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
BLOCK_BYTES = 1 << 18  # the CSV reader's block: it infers types from the first, and reads 32 ahead
TEXT = (".csv", ".tsv", ".txt", ".tab", ".dat")
SUFFIXES = TEXT + (".parquet", ".pq", ".npy", ".npz")


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a text table: csv.Sniffer over its first 64 KB (cut at the last newline), else ``,``."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[:head.rindex(b"\n")]
    sample = head.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


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
    if path.stat().st_size == 0:
        raise ValueError(f"data file {path} is empty; it needs a header row and at least one row of data")
    nas = tuple(NA_VALUES) + tuple(str(v).strip() for v in na_values)
    if suffix in (".npy", ".npz"):
        table = _read_numpy(path)
    elif suffix in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        table = _read_csv(path, nas)
    names = [str(n).strip() or f"column{i + 1}" for i, n in enumerate(table.column_names)]
    seen = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    dups = [n for n, c in seen.items() if c > 1]
    if dups:
        raise ValueError(f"data file {path} has duplicated column names {dups}; every column needs its own name")
    table = table.rename_columns(names)
    if table.num_rows == 0:
        raise ValueError(f"data file {path} has a header ({', '.join(names[:8])}) but no rows of data")
    table = pa.table([_clean(table.column(i), nas) for i in range(table.num_columns)], names=names)
    release_memory()  # the parser's blocks
    return table


def release_memory() -> None:
    """Give back to the system the memory pyarrow's allocator keeps once freed (for pyarrow alone to reuse);
    called where a big table, or what was computed from one, has just been let go."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _read_csv(path: Path, nas: tuple[str, ...]):
    """pyarrow's streaming reader, one block of the file at a time (``read_csv`` keeps every block's parse until
    its types are settled: 2-3× the table), each number column gathered into one array (``_gather``). Types
    come from the first block; a column that a later block does not fit (integers then ``1.5``, numbers then
    text) is read again as text, which ``_clean`` makes numbers when every cell is one, as ``read_csv``'s
    whole-file inference would have."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    delimiter = sniff_delimiter(path)
    text = {}  # columns read as text, by name
    while True:
        reader = None
        try:
            reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
                                   parse_options=pcsv.ParseOptions(delimiter=delimiter),
                                   convert_options=pcsv.ConvertOptions(null_values=list(nas), strings_can_be_null=True,
                                                                       column_types=text))
            with reader:
                table = _gather(reader, _most_rows(path))
            break
        except pa.ArrowInvalid as e:
            unfit = re.match(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+):", str(e))
            if unfit is None or reader is None:
                raise ValueError(_explain(path, delimiter, str(e))) from None
            name = reader.schema.names[int(unfit[1])]
            if unfit[2] == "string":  # already text: bytes that are not UTF-8
                raise ValueError(_not_utf8(path, name)) from None
            text[name] = pa.string()
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            raise ValueError(_not_utf8(path, name))
    return table


def _gather(reader, most_rows: int):
    """The batches of a CSV reader as one table, each integer or float column copied into one numpy array as
    the batches come (then freed at once when let go, and its rows taken without a copy of it all); other
    columns keep their batches' chunks. ``most_rows``: at least the number of rows (pages never written to
    take no memory)."""
    import pyarrow as pa

    schema = reader.schema
    values = [_own_pages(most_rows, t.to_pandas_dtype()) if pa.types.is_integer(t) or pa.types.is_floating(t)
              else [] for t in schema.types]
    valid = [None] * len(values)  # (most_rows,) bool, once a number column has a missing cell
    n = 0
    for batch in reader:
        for i, chunk in enumerate(batch.columns):
            if isinstance(values[i], list):
                values[i].append(chunk)
                continue
            values[i][n:n + len(chunk)] = chunk.fill_null(0).to_numpy()
            if chunk.null_count and valid[i] is None:
                valid[i] = np.ones(most_rows, bool)
            if valid[i] is not None:
                valid[i][n:n + len(chunk)] = chunk.is_valid().to_numpy(zero_copy_only=False)
        n += batch.num_rows
    return pa.table([pa.chunked_array(v, t) if isinstance(v, list) else
                     pa.array(v[:n], t, mask=None if m is None else ~m[:n])
                     for v, m, t in zip(values, valid, schema.types)], schema=schema)


def _own_pages(n: int, dtype) -> np.ndarray:
    """An array of ``n`` numbers in pages of its own (an anonymous mmap), given back to the system as soon as it
    is let go: malloc may serve a 16 MB array from its heap, and keep it after ``free``."""
    dtype = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(n, 1) * dtype.itemsize), dtype)[:n]


def _most_rows(path: Path) -> int:
    """An upper bound on a text table's rows: its line ends (``\\n``, ``\\r``) plus one."""
    ends = 1
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            ends += block.count(b"\n") + block.count(b"\r")
    return ends


def _not_utf8(path: Path, column: str) -> str:
    return (f"data file {path} is not UTF-8 text: line {_first_bad_utf8(path)}, column {column!r} holds other bytes; "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def _explain(path: Path, delimiter: str, message: str) -> str:
    """pyarrow's parse error as one line naming the file and, where it can be found, the line."""
    first = message.splitlines()[0] if message else "unreadable"
    if first.startswith("Empty CSV file"):
        return f"data file {path} is empty; it needs a header row and at least one row of data"
    if "Expected" in first and "columns" in first:
        line, found, expected = _ragged_line(path, delimiter)
        if line is not None:
            return (f"data file {path}, line {line}: {found} cells where the header has {expected} (delimiter "
                    f"{delimiter!r}); fix that row, or quote cells that hold the delimiter")
    if "UTF8" in first or "utf-8" in first.lower():
        return f"data file {path} is not UTF-8 text (line {_first_bad_utf8(path)}); save it as UTF-8"
    return f"data file {path} cannot be parsed: {first}"


def _ragged_line(path: Path, delimiter: str) -> tuple[int | None, int, int]:
    """(line number, cells, header cells) of the first row whose cell count differs from the header's."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return None, 0, len(header)


def _first_bad_utf8(path: Path) -> int:
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _clean(column, nas: tuple[str, ...]):
    """Strings trimmed, NA markers made missing, and a text column whose every cell is a number made numeric."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
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


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path, pre_buffer=False)
        batches = list(f.iter_batches(batch_size=65536))
        return pa.Table.from_batches(batches, schema=f.schema_arrow)
    except (pa.ArrowInvalid, OSError) as e:
        raise ValueError(f"data file {path} is not a readable Parquet file: {str(e).splitlines()[0]}") from None


def _read_numpy(path: Path):
    """``.npy``: a 2-D numeric array, columns named c0, c1, ...; ``.npz``: one 1-D array per column, by name."""
    import pyarrow as pa

    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise ValueError(f"data file {path} cannot be read without unpickling ({e}); mlplab never unpickles "
                         "files: save plain numeric or string arrays") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"data file {path} is not a numpy file: {e}") from None
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
