"""mlplab.data.table: the reader's quirks, each on a small file written here, and its one-line errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from mlplab.data.csv_stream import sniff_delimiter  # noqa: E402
from mlplab.data.table import read_table  # noqa: E402


def write(tmp_path, text: str | bytes, name: str = "t.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_bom_is_not_part_of_the_first_name(tmp_path):
    t = read_table(write(tmp_path, b"\xef\xbb\xbfage,y\n30,N\n40,Y\n"))
    assert t.column_names == ["age", "y"]
    assert t.column("age").to_pylist() == [30, 40]


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(tmp_path, sep):
    path = write(tmp_path, f"a{sep}b{sep}c\n1{sep}2.5{sep}x\n3{sep}4.5{sep}y\n")
    assert sniff_delimiter(path) == sep
    t = read_table(path)
    assert t.column_names == ["a", "b", "c"] and t.column("b").to_pylist() == [2.5, 4.5]


def test_quotes_hold_the_delimiter_and_spaces_are_trimmed(tmp_path):
    t = read_table(write(tmp_path, 'name , price,  cut\n"Smith, J", 1.5 , " Ideal"\n"Doe", 2 , Good\n'))
    assert t.column_names == ["name", "price", "cut"]
    assert t.column("name").to_pylist() == ["Smith, J", "Doe"]
    assert t.column("price").type == pa.float64() and t.column("price").to_pylist() == [1.5, 2.0]
    assert t.column("cut").to_pylist() == ["Ideal", "Good"]


def test_na_markers_are_missing_and_extendable(tmp_path):
    path = write(tmp_path, "a,b,c\n1,NA,x\nN/A,2,?\n3, null ,-\n")
    t = read_table(path)
    assert t.column("a").to_pylist() == [1, None, 3] and t.column("b").to_pylist() == [None, 2, None]
    assert t.column("c").to_pylist() == ["x", None, "-"]
    assert read_table(path, na_values=["-"]).column("c").to_pylist() == ["x", None, None]


def test_booleans_and_empty_cells(tmp_path):
    t = read_table(write(tmp_path, "flag,age\nTrue,22\nFalse,\n"))
    assert t.column("flag").to_pylist() == [True, False] and t.column("age").to_pylist() == [22, None]


def test_parquet_npy_npz(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "s": ["u", "v"]}), tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").column("s").to_pylist() == ["u", "v"]
    np.save(tmp_path / "t.npy", np.arange(6.0).reshape(3, 2))
    assert read_table(tmp_path / "t.npy").column_names == ["c0", "c1"]
    np.savez(tmp_path / "t.npz", x=np.arange(3.0), y=np.array(["a", "b", "a"]))
    assert read_table(tmp_path / "t.npz").column("y").to_pylist() == ["a", "b", "a"]
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="never unpickles"):
        read_table(tmp_path / "o.npy")


@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"a,b,c\n", r"has a header \(a, b, c\) but no rows"),
    (b"a,b,a\n1,2,3\n", r"duplicated column names \['a'\]"),
    (b"a,b\n1,2\n3,4\n5,6,7\n", r"line 4: 3 cells where the header has 2"),
    (b"a,b\n1,2\n3,caf\xe9\n", r"not UTF-8 text: line 3, column 'b'"),
])
def test_bad_files_are_one_line_naming_the_place(tmp_path, content, match):
    path = write(tmp_path, content)
    with pytest.raises(ValueError, match=match) as e:
        read_table(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_header_longer_than_the_first_block_is_read(tmp_path):
    """Not "Empty CSV file or block": the reader takes bigger blocks, as for a long cell."""
    name = "c" * (1 << 20)
    t = read_table(write(tmp_path, f"a,{name},y\n1,2,p\n3,4,q\n"))
    assert t.column_names == ["a", name, "y"] and t.num_rows == 2


def test_missing_file_folder_and_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="is a folder"):
        read_table(tmp_path)
    with pytest.raises(ValueError, match="mlplab reads"):
        read_table(write(tmp_path, "a\n1\n", "t.xlsx"))


def test_text_in_a_numeric_column_names_line_and_cell(tmp_path):
    from mlplab.data.cells import check_numbers

    rows = "".join(f"{i},{i * 2}\n" for i in range(40))
    path = write(tmp_path, "a,b\n" + rows + "oops,5\n")
    with pytest.raises(ValueError, match=r"line 42, column 'a': 'oops' is not a number.*--na-values 'oops'"):
        check_numbers(read_table(path), str(path))
    check_numbers(read_table(path, na_values=["oops"]), str(path))  # marked missing: fine


# --- the streaming reader: types from the first block, a later block that does not fit them ----------------

def whole_file(path):
    """What pyarrow's whole-file reader (type inference over every block) gives, cleaned as read_table cleans."""
    from pyarrow import csv as pcsv

    from mlplab.data.table import NA_VALUES, _clean

    t = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(null_values=list(NA_VALUES), strings_can_be_null=True))
    return pa.table([_clean(c, NA_VALUES) for c in t.columns], names=t.column_names)


def long_file(tmp_path, late: str, first: str = "{i}"):
    """Rows ``first,i,w{i%3}`` over the reader's first blocks, then ``late,1,w0``."""
    from mlplab.data.csv_stream import BLOCK_BYTES

    rows = 3 * BLOCK_BYTES // 10
    body = "".join(f"{first.format(i=i)},{i},w{i % 3}\n" for i in range(rows))
    return write(tmp_path, f"a,b,c\n{body}{late},1,w0\n")


@pytest.mark.parametrize("first, late", [
    ("{i}", "1.5"),         # integers, then a float: float64
    ("{i}", "oops"),        # numbers, then text: text (check_numbers then names the cell)
    ("", "3"),              # empty (a null column), then a number: int64
    ("{i}", "NA"),          # numbers, then a missing cell
    ("True", "maybe"),      # booleans, then text
    ("{i}.25", ""),         # floats with a missing cell
])
def test_a_late_block_gives_what_the_whole_file_reader_gives(tmp_path, first, late):
    path = long_file(tmp_path, late, first)
    t, ref = read_table(path), whole_file(path)
    assert t.schema == ref.schema and t.equals(ref)
    if pa.types.is_integer(t.schema.field("a").type) or pa.types.is_floating(t.schema.field("a").type):
        assert t.column("a").num_chunks == 1  # a number column is one array: freed at once, taken without a copy


@pytest.mark.parametrize("late, match", [
    (b"caf\xe9", r"not UTF-8 text: line \d+, column 'c'"),
    (b"1,2", r"line \d+: 4 cells where the header has 3"),
])
def test_a_late_bad_row_is_named(tmp_path, late, match):
    path = long_file(tmp_path, "0")
    with open(path, "ab") as f:
        f.write(b"7,7," + late + b"\n")
    rows = path.read_bytes().count(b"\n")
    with pytest.raises(ValueError, match=match) as e:
        read_table(path)
    assert f"line {rows}" in str(e.value) and "\n" not in str(e.value)


# ---- exotic types: numbers when they are numbers, one line naming the file otherwise ----------------------------

def exotic_parquet(tmp_path, kind: str):
    import datetime
    import decimal

    import pyarrow.parquet as pq

    n = 6
    columns = {
        "decimal": (pa.array([decimal.Decimal(f"{i}.25") for i in range(n)], pa.decimal128(8, 2)), 2.25),
        "duration": (pa.array([datetime.timedelta(seconds=i, milliseconds=500) for i in range(n)]), 2.5),
        "time": (pa.array([datetime.time(0, 0, i) for i in range(n)]), 2.0),
        "time32": (pa.array([i * 1000 for i in range(n)], pa.time32("ms")), 2.0),
        "duration_ns": (pa.array([i * 10**9 for i in range(n)], pa.duration("ns")), 2.0),
    }
    values, third = columns[kind]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": values, "y": list("ababab")}), path)
    return path, third


@pytest.mark.parametrize("kind", ["decimal", "duration", "time", "time32", "duration_ns"])
def test_decimal_duration_and_time_columns_are_numbers(tmp_path, kind):
    path, third = exotic_parquet(tmp_path, kind)
    x = read_table(path).column("x")
    assert pa.types.is_floating(x.type) and x[2].as_py() == pytest.approx(third)


@pytest.mark.parametrize("index", ["range with offset", "strings", "multi"])
def test_pandas_unnamed_index_columns_are_dropped_from_parquet(tmp_path, index):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", "q", "p"]})
    frame.index = {"range with offset": pd.Index([10, 30, 20]), "strings": pd.Index(["r", "s", "t"]),
                   "multi": pd.MultiIndex.from_tuples([(1, "a"), (2, "b"), (3, "c")])}[index]
    frame.to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").column_names == ["a", "y"]


NESTED = {"list": pa.array([[1, 2], [3]]), "struct": pa.array([{"u": 1}, {"u": 2}]),
          "map": pa.array([[("k", 1)], [("j", 2)]], pa.map_(pa.string(), pa.int64())),
          "large_list": pa.array([[1], [2]], pa.large_list(pa.int64()))}


@pytest.mark.parametrize("kind", list(NESTED))
def test_nested_parquet_columns_are_refused_in_one_line(tmp_path, kind):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": NESTED[kind], "y": ["p", "q"]}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"t.parquet has column\(s\) holding lists, structs or maps: x \("):
        read_table(tmp_path / "t.parquet")


NPY = {
    "complex": (lambda p: np.save(p, np.ones((3, 2), np.complex128)), "holds complex128 values"),
    "huge header": (lambda p: huge_header(p), "header claims shape (100000000000, 3)"),
    "truncated": (lambda p: (np.save(p, np.ones((50, 3))), p.write_bytes(p.read_bytes()[:300])),
                  "truncated or damaged"),
    "object": (lambda p: np.save(p, np.array([[{"a": 1}]], dtype=object), allow_pickle=True),
               "cannot be read without unpickling"),
    "garbage header": (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<}  \n" + b"\0" * 32),
                       "header does not parse"),
    "not numpy": (lambda p: p.write_bytes(b"hello, world\n" * 5), "not a readable"),
}


def huge_header(path):
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 3), }"
    header += b" " * (117 - len(header)) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)


@pytest.mark.parametrize("kind", list(NPY))
def test_odd_npy_files_are_refused_naming_the_cause(tmp_path, kind):
    make, words = NPY[kind]
    make(tmp_path / "t.npy")
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_table(tmp_path / "t.npy")


@pytest.mark.parametrize("cell,what", [("inf", "infinite"), ("-inf", "infinite"), ("1e300", "beyond float32"),
                                       ("-4e38", "beyond float32"), ("1e39", "beyond float32")])
def test_extreme_numbers_are_refused_naming_the_line_and_column(tmp_path, cell, what):
    from mlplab.data.tabular import load

    path = write(tmp_path, f"a,b,y\n1,2,p\n3,{cell},q\n5,6,p\n")
    with pytest.raises(ValueError, match=f"t.csv, line 3, column 'b': .* is {what}"):
        load(path)


BIG = "1" + "0" * 39  # 1e39: beyond float32's ±3.4e38


@pytest.mark.parametrize("cell,shown", [(f"{BIG} kg", "(1e+39)"), (f"-{BIG} kg", "(-1e+39)"),
                                        ('"1,000,000,000,000,000,000,000,000,000,000,000,000,000 kg"', "(1e+39)")])
def test_numbers_with_units_beyond_float32_are_refused_not_clipped(tmp_path, cell, shown):
    """A column of numbers with units is read as numbers (mlplab.data.units): a huge one is refused as a plain
    number is, naming the line, the column and the cell, not scaled and clipped to the column's edge."""
    from mlplab.data.tabular import load

    path = write(tmp_path, f"w,y\n1.5 kg,p\n{cell},q\n2 kg,p\n")
    with pytest.raises(ValueError, match=f"t.csv, line 3, column 'w': .*{re.escape(shown)} is beyond float32's range"):
        load(path)


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.npy"])
def test_a_value_beyond_float32_is_refused_in_every_format(tmp_path, name):
    import pyarrow.parquet as pq

    from mlplab.data.tabular import load

    x = np.array([[1.0, 2.0], [3.0, 1e300], [5.0, 6.0]])
    path = tmp_path / name
    if name == "t.csv":
        path.write_text("c0,c1\n" + "".join(f"{a},{b}\n" for a, b in x.tolist()))
    elif name == "t.parquet":
        pq.write_table(pa.table({"c0": x[:, 0], "c1": x[:, 1]}), path)
    else:
        np.save(path, x)
    where = "line 3" if name == "t.csv" else "row 2"
    with pytest.raises(ValueError, match=f"{name}, {where}, column 'c1': 1e\\+300 is beyond float32's range"):
        load(path)


def test_values_just_inside_float32_and_long_text_cells_are_kept(tmp_path):
    from mlplab.data.tabular import load

    text = "a description longer than thirty-nine characters: 1 kg"
    table, _ = load(write(tmp_path, f"a,w,t,y\n3.3e38,1 kg,{text},p\n-3.3e38,{'9' * 38} kg,x,q\n"))
    assert table.column("a").to_pylist() == [3.3e38, -3.3e38]


def test_nan_in_a_parquet_float_column_is_refused_naming_the_row(tmp_path):
    import pyarrow.parquet as pq

    from mlplab.data.tabular import load

    pq.write_table(pa.table({"a": pa.array([1.0, float("nan"), 2.0]), "y": ["p", "q", "p"]}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"t.parquet, row 2, column 'a': nan is not a number \(NaN\)"):
        load(tmp_path / "t.parquet")


@pytest.mark.parametrize("how", ["same path", "symlink", "copy"])
def test_a_test_file_that_is_the_data_file_is_refused(tmp_path, how):
    from mlplab.data.tabular import read_splits

    data = write(tmp_path, "a,y\n" + "".join(f"{i},{'pq'[i % 2]}\n" for i in range(20)))
    test = {"same path": data, "symlink": tmp_path / "l.csv", "copy": tmp_path / "c.csv"}[how]
    if how == "symlink":
        test.symlink_to(data)
    if how == "copy":
        test.write_bytes(data.read_bytes())
    with pytest.raises(ValueError, match=f"--test {test} holds the same rows as --data"):
        read_splits(str(data), "y", test=str(test), log=lambda m: None)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_device_is_not_read_as_an_empty_file(tmp_path, kind):
    import os

    path = tmp_path / "t.csv"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = tmp_path / "null.csv"
        if os.geteuid() != 0:
            pytest.skip("mknod needs root")
        import stat

        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(ValueError, match="is not a regular file"):
        read_table(path)


def test_a_cell_of_megabytes_is_read_with_bigger_blocks(tmp_path):
    rows = "".join(f"{i},{'x' * (3_000_000 if i == 3 else 5)},{'pq'[i % 2]}\n" for i in range(20))
    t = read_table(write(tmp_path, "a,txt,y\n" + rows))
    assert t.num_rows == 20 and len(t.column("txt")[3].as_py()) == 3_000_000


def test_an_unclosed_quote_is_named_as_such(tmp_path):
    with pytest.raises(ValueError, match="quote that is never closed"):
        read_table(write(tmp_path, "a,y\n1,\"p\n" + "2,q\n" * 200_000))
