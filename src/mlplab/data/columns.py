"""A table's feature columns as one float32 matrix, with every statistic learned from the training rows only.

``Columns.fit(train_rows, target)`` decides each column's kind and learns its statistics; ``transform(table)``
applies them to any rows (validation, test, new data), so what trained is what predicts. The recipe is
RealMLP-TD's (Holzmüller, Grinsztajn & Steinwart 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted
Trees on Tabular Data"):

- numeric → missing cells get the training median, plus a 0/1 indicator column when the training column
  had missing cells; robust scaling z = (x − median) / (q75 − q25) (an IQR of 0: 0.5·(max − min); both 0:
  factor 0); smooth clipping z / √(1 + (z/3)²), which keeps outliers from dominating a batch.
- categorical (text, booleans, integers with at most 10 values, or named by ``categorical``) → one-hot of
  the training values seen at least 3 times (at most 32, the most frequent), plus one "other" slot for
  rare, unseen and missing values.
- dropped with a notice: ``drop``, all-missing and constant columns. A column that restates the target is
  refused (mlplab.data.target.leaks) unless named in ``allow_leak``.

The cells are read as numbers by mlplab.data.cells (which also gives an exported graph its inputs).
Saved as JSON (kinds, categories, the report) plus safetensors (the numeric statistics); never pickled.
``report`` lists every choice in one line each (a run writes it to ``columns.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mlplab.data.cells import check_numeric, codes_of, float_blocks, floats, log_other
from mlplab.data.csv_stream import release_memory
from mlplab.data.target import Target, as_text, leaks, take

MAX_CATEGORIES = 32
MIN_COUNT = 3
MAX_INT_CATEGORIES = 10
SCALINGS = ("robust", "standard")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str                                   # numeric | categorical
    categories: tuple[str, ...] = ()            # categorical: one slot each, then "other/missing"
    indicator: bool = False                     # numeric: a missing-indicator column follows

    @property
    def width(self) -> int:
        return len(self.categories) + 1 if self.kind == "categorical" else 1 + self.indicator


class Columns:
    """The fitted preprocessor: ``transform(table) -> float32 (N, width)``; see the module docstring."""

    def __init__(self, target: Target, columns: list[Column], fill: np.ndarray, center: np.ndarray,
                 factor: np.ndarray, scaling: str = "robust", ignored: tuple[str, ...] = (),
                 report: tuple[str, ...] = ()):
        self.target, self.columns, self.scaling = target, list(columns), scaling
        self.fill, self.center, self.factor = (np.asarray(a, np.float64) for a in (fill, center, factor))
        self.ignored, self.report = tuple(ignored), tuple(report)

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @classmethod
    def fit(cls, table, target: Target, *, rows: np.ndarray | None = None, categorical=(), numeric=(), drop=(),
            allow_leak=(), scaling: str = "robust") -> Columns:
        """Learn from the training rows of ``table`` (``rows``, else all; the target column among them) how to
        encode each column. The rows are taken one column at a time: no copy of the whole table."""
        import pyarrow as pa

        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}; got {scaling!r}")
        names = table.column_names
        for flag, given in (("drop", drop), ("categorical", categorical), ("numeric", numeric),
                            ("allow-leak", allow_leak)):
            unknown = [c for c in given if c not in names]
            if unknown:
                raise ValueError(f"--{flag} names column(s) {unknown} that the data does not have; its columns: "
                                 f"{', '.join(names)}")
        both = sorted(set(categorical) & set(numeric))
        if both:
            raise ValueError(f"column(s) {both} are named both --categorical and --numeric; choose one")
        report = [target.reason] + [f"{c}: dropped (--drop)" for c in drop]
        kept = [n for n in names if n != target.name and n not in drop]
        for name, how in leaks(table.select(kept + [target.name]), target, rows):
            if name not in allow_leak:
                raise ValueError(f"column {name!r} {how} {target.name!r}: a leak (it is known only with the "
                                 f"answer), so the model would learn nothing usable; drop it with --drop {name}, "
                                 f"or keep it on purpose with --allow-leak {name}")
            report.append(f"{name}: kept although it {how} (--allow-leak)")
        columns, stats, ignored = [], [], list(drop)
        for name in kept:
            col, why = take(table.column(name), rows), None
            if col.null_count == len(col):
                why = "dropped: every cell is missing"
            elif name in numeric or (name not in categorical and _is_numeric(col)):
                if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                    raise ValueError(f"--numeric {name}: the column holds text such as {col.drop_null()[0].as_py()!r}")
                x = floats(col)
                del col
                ok = x[~np.isnan(x)] if np.isnan(x).any() else x
                if np.ptp(ok) == 0 and len(ok) == len(x):
                    why = f"dropped: constant ({ok[0]:g})"
                else:
                    columns.append(Column(name, "numeric", indicator=len(ok) < len(x)))
                    stats.append(_scale(ok, scaling))
                    report.append(f"{name}: numeric, median {stats[-1][0]:.4g}, {scaling} scaling"
                                  + (f", {len(x) - len(ok)} missing → median + indicator" if len(ok) < len(x) else ""))
                del x, ok  # before the next column's
            else:
                text = as_text(col)
                counts = text.value_counts().to_pylist()
                counts = sorted(((c["counts"], c["values"]) for c in counts if c["values"] is not None),
                                key=lambda t: (-t[0], t[1]))
                if len(counts) == 1 and col.null_count == 0:
                    why = f"dropped: constant ({counts[0][1]!r})"
                else:
                    cats = tuple(v for n, v in counts if n >= MIN_COUNT)[:MAX_CATEGORIES]
                    columns.append(Column(name, "categorical", categories=cats))
                    rest = len(counts) - len(cats)
                    report.append(f"{name}: categorical, {len(cats)} values ({', '.join(cats[:6])}"
                                  f"{', ...' if len(cats) > 6 else ''}) + other"
                                  + (f" (also {rest} rare values)" if rest else "")
                                  + (f", {col.null_count} missing → other" if col.null_count else ""))
            if why:
                ignored.append(name)
                report.append(f"{name}: {why}")
        if not columns:
            raise ValueError(f"no usable feature columns besides the target {target.name!r}: "
                             + ("; ".join(r for r in report[1:]) or "the table has no other column"))
        fill, center, factor = (np.array([s[i] for s in stats], np.float64) for i in range(3))
        out = cls(target, columns, fill, center, factor, scaling, tuple(ignored), ())
        out.report = tuple(report + [f"features: {len(columns)} columns → {out.width} inputs"])
        return out

    def transform(self, table, log=None) -> np.ndarray:
        """Rows of ``table`` as float32 (N, width); notices (extra columns, unseen values) go to ``log``."""
        return self.encode(dict(zip(table.column_names, table.columns)), log)

    def encode(self, cells: dict, log=None, order: str = "C") -> np.ndarray:
        """``transform`` of a table given as ``{name: column}``, which it empties: each column is let go once
        encoded, so a caller that hands over the only references frees the table as the matrix fills (with
        ``order="F"`` the matrix is column-major, and only the columns written so far take memory)."""
        log = log or (lambda m: warnings.warn(m, stacklevel=3))
        self.check_names(list(cells), log)
        out = np.zeros((len(cells[self.columns[0].name]), self.width), np.float32, order=order)
        j, k, other = 0, 0, {}
        for c in self.columns:
            col = cells.pop(c.name)
            if c.kind == "numeric":
                check_numeric(c.name, col)
                for start, x in float_blocks(col):               # a block of rows at a time: no (N,) temporaries
                    miss = self.scale_(x, k)
                    out[start:start + len(x), j] = x
                    if c.indicator:
                        out[start:start + len(x), j + 1] = miss
                del col
                release_memory()                                  # the column just encoded
                k += 1
            else:
                idx, other[c.name] = codes_of(col, c.categories)
                out[np.arange(len(idx)), j + idx] = 1.0
            j += c.width
        cells.clear()  # the columns not used (the target, dropped ones)
        release_memory()
        log_other(other, log)
        return out

    def check_names(self, names: list[str], log) -> None:
        """Every trained column must be there (else one ValueError naming them); extra ones get one notice."""
        missing = [c.name for c in self.columns if c.name not in names]
        if missing:
            raise ValueError(f"the data lacks column(s) {missing} that the run was trained with; it has: "
                             f"{', '.join(names)}")
        known = {c.name for c in self.columns} | set(self.ignored) | {self.target.name}
        extra = [n for n in names if n not in known]
        if extra:
            log(f"ignored {len(extra)} column(s) the run was not trained with: {', '.join(extra)}")

    def scale_(self, x: np.ndarray, k: int) -> np.ndarray:
        """Numeric column ``k``'s formula on raw float64 cells ``x``, in place: missing (NaN) → the training
        median, z = (x − center) · factor, robust: z / √(1 + (z/3)²). Returns the missing mask."""
        miss = np.isnan(x)
        x[miss] = self.fill[k]
        x -= self.center[k]                           # z = (x − center) · factor, in place
        x *= self.factor[k]
        if self.scaling == "robust":                  # z / √(1 + (z/3)²), the same operations in place
            s = x / 3
            s *= s
            s += 1
            np.sqrt(s, out=s)
            x /= s
        return miss

    def to_files(self) -> tuple[dict, dict]:
        """(JSON-able metadata, float64 numpy arrays) to save with a run."""
        meta = {"format": "mlplab-columns-1", "target": self.target.to_json(), "scaling": self.scaling,
                "ignored": list(self.ignored), "report": list(self.report),
                "columns": [{"name": c.name, "kind": c.kind, "categories": list(c.categories),
                             "indicator": c.indicator} for c in self.columns]}
        return meta, {"fill": self.fill, "center": self.center, "factor": self.factor}

    @classmethod
    def from_files(cls, meta: dict, arrays: dict) -> Columns:
        columns = [Column(c["name"], c["kind"], tuple(c["categories"]), bool(c["indicator"])) for c in meta["columns"]]
        return cls(Target.from_json(meta["target"]), columns, *(np.asarray(arrays[k]) for k in ("fill", "center", "factor")),
                   meta["scaling"], tuple(meta["ignored"]), tuple(meta["report"]))


def _is_numeric(col) -> bool:
    """Floats, and integers with more than MAX_INT_CATEGORIES distinct values (fewer: categories)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(col.type):
        return True
    return pa.types.is_integer(col.type) and pc.count_distinct(col).as_py() > MAX_INT_CATEGORIES


def _scale(x: np.ndarray, scaling: str) -> tuple[float, float, float]:
    """(fill, center, factor) from the training values ``x`` (no NaN): robust (RealMLP) or standard.
    ``x`` is reordered (the quantiles partition it in place, after any statistic that depends on its order)."""
    if scaling == "standard":
        std, mean = float(x.std()), float(x.mean())
        return float(np.median(x, overwrite_input=True)), mean, 1.0 / std if std > 0 else 0.0
    median = float(np.median(x, overwrite_input=True))
    q25, q75 = np.quantile(x, [0.25, 0.75], overwrite_input=True)
    spread = q75 - q25 if q75 > q25 else 0.5 * np.ptp(x)
    return median, median, float(1.0 / spread) if spread > 0 else 0.0
