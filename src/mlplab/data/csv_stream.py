"""Read a CSV/TSV a block at a time (pyarrow's streaming reader) into a pyarrow Table, in little more memory
than the table itself; mlplab.data.table calls it for text files.

``read_csv`` gathers each number column into one numpy array as the blocks come (8 bytes a number), not the 2-3
times the table that pyarrow's ``read_csv`` holds while it settles the types of the whole file; the arrays sit
in pages of their own, given back to the system once let go (``release_memory`` does the same for pyarrow's
pool). Its parse errors become one ValueError naming the file and, where it has one, the line and column: a row
with too many or too few cells, bytes that are not UTF-8; a file that is no text (compressed, binary, UTF-16, a
Parquet or .npy file named .csv) is named as what it is before the parser reads it as one garbled column.

>>> t = read_csv(Path("diamonds.csv"), ("", "NA"))      # doctest: +SKIP
"""

from __future__ import annotations

import csv
import mmap
import re
from pathlib import Path

import numpy as np

DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
BLOCK_BYTES = 1 << 18  # the CSV reader's block: it infers types from the first, and reads 32 ahead
MAX_BLOCK_BYTES = 1 << 30  # a row longer than a block is read again with blocks 8x larger, up to this


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


# What a file named .csv may hold instead of text, by its first bytes, and what to do about it.
NOT_TEXT = {b"\x1f\x8b": "gzip-compressed; decompress it first (gunzip -k {path})",
            b"PK\x03\x04": "a zip archive; unzip it and pass the table inside",
            b"BZh": "bzip2-compressed; decompress it first (bunzip2 -k {path})",
            b"\xfd7zXZ\x00": "xz-compressed; decompress it first (unxz -k {path})",
            b"\x28\xb5\x2f\xfd": "zstd-compressed; decompress it first (unzstd {path})",
            b"PAR1": "a Parquet file; give it the suffix .parquet",
            b"\x93NUMPY": "a NumPy array file; give it the suffix .npy",
            b"\xff\xfe": "UTF-16 text; save it as UTF-8 (iconv -f utf-16 -t utf-8)",
            b"\xfe\xff": "UTF-16 text; save it as UTF-8 (iconv -f utf-16 -t utf-8)"}


def check_text(path: Path) -> None:
    """A text table's first 64 KB must be text: a compressed or binary file, or UTF-16, is refused by name
    before the parser reads it as one garbled column; a file of blank lines is empty."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    for magic, what in NOT_TEXT.items():
        if head.startswith(magic) and not head.startswith(b"\xef\xbb\xbf"):
            raise ValueError(f"data file {path} is {what.format(path=path)}")
    if b"\0" in head:
        nul = head.index(b"\0") + 1
        raise ValueError(f"data file {path} is not text: byte {nul} is a NUL (a binary file, or "
                         "text in UTF-16/32); a table file must be UTF-8 text (CSV/TSV), Parquet or .npy/.npz")
    control = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    if control > len(head) // 10:
        raise ValueError(f"data file {path} is not text: {control} of its first {len(head)} bytes are control "
                         "characters (a binary file); a table file must be UTF-8 text (CSV/TSV), Parquet or .npy/.npz")
    if not _utf8_start(head.split(b"\n", 1)[0]):  # the parser would take it as one garbled column
        raise ValueError(f"data file {path} is not UTF-8 text: line 1 (the header) holds other bytes; save it as "
                         "UTF-8 (e.g. iconv -f latin1 -t utf-8)")
    if not head.strip() and len(head) < SNIFF_BYTES:
        raise ValueError(f"data file {path} holds only blank lines; it needs a header row and at least one row "
                         "of data")


def _utf8_start(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, but for a character cut at its end."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(data) - 3 and e.reason == "unexpected end of data"
    return True


def release_memory() -> None:
    """Give back to the system the memory pyarrow's allocator keeps once freed (for pyarrow alone to reuse);
    called where a big table, or what was computed from one, has just been let go."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def read_csv(path: Path, nas: tuple[str, ...]):
    """pyarrow's streaming reader, one block of the file at a time (pyarrow's ``read_csv`` keeps every block's
    parse until its types are settled: 2-3× the table), each number column gathered into one array (``gather``).
    Types come from the first block; a column that a later block does not fit (integers then ``1.5``, numbers
    then text) is read again as text, which mlplab.data.table makes numbers when every cell is one, as
    pyarrow's whole-file inference would have. ``nas``: the cell texts read as missing."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    check_text(path)
    delimiter = sniff_delimiter(path)
    text = {}  # columns read as text, by name
    block = BLOCK_BYTES
    while True:
        reader = None
        try:
            reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=block, use_threads=False),
                                   parse_options=pcsv.ParseOptions(delimiter=delimiter),
                                   convert_options=pcsv.ConvertOptions(null_values=list(nas), strings_can_be_null=True,
                                                                       column_types=text))
            with reader:
                table = gather(reader, _most_rows(path))
            break
        except pa.ArrowInvalid as e:
            longer = "straddling" in str(e) or ("Empty CSV file" in str(e) and path.stat().st_size > block)
            if longer:  # a row (or the header) longer than a block (a cell of megabytes): read bigger blocks
                if block >= MAX_BLOCK_BYTES:
                    raise ValueError(f"data file {path} has a row longer than {MAX_BLOCK_BYTES >> 20} MB (a cell of "
                                     "free text, or an unclosed quote that runs to the end of the file); check "
                                     "its quotes, or drop that column before reading") from None
                block *= 8
                continue
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


def gather(reader, most_rows: int):
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
    if "Empty CSV file" in first:  # no line with a cell: only blank lines (check_text catches short files)
        return f"data file {path} holds only blank lines; it needs a header row and at least one row of data"
    if "Expected" in first and "columns" in first:
        start, line, found, expected = _ragged_line(path, delimiter)
        if line is not None and start < line:  # the row ran over lines: a quote opened there is never closed
            return (f"data file {path}, line {start}: a quoted cell opens there and runs to line {line} (a quote "
                    "that is never closed?); close the quote, or put each row on one line")
        if line is not None:
            return (f"data file {path}, line {line}: {found} cells where the header has {expected} (delimiter "
                    f"{delimiter!r}); fix that row, or quote cells that hold the delimiter")
    if "UTF8" in first or "utf-8" in first.lower():
        return f"data file {path} is not UTF-8 text (line {_first_bad_utf8(path)}); save it as UTF-8"
    if "out of sync" in first:
        return (f"data file {path} has a quoted cell that runs over several lines (or a quote that is never "
                "closed); close the quote, or put each row on one line")
    return f"data file {path} cannot be parsed: {first}"


def _ragged_line(path: Path, delimiter: str) -> tuple[int, int | None, int, int]:
    """(first line, last line, cells, header cells) of the first row whose cell count differs from the
    header's; the two lines differ when a quoted cell ran over several."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                return start, reader.line_num, len(row), len(header)
            start = reader.line_num + 1
    return 0, None, 0, len(header)


def _first_bad_utf8(path: Path) -> int:
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0
