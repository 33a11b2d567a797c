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
- many levels (more than 32 seen at least 3 times) → also one numeric column per target mean (regression,
  binary) or class rate (multiclass): each level's smoothed mean of the target on the training rows, out of
  fold for the training rows themselves (mlplab.data.target_encoding). On InstEval (students, lecturers) it
  takes a Ridge from RMSE 1.3125 (top-32 one-hot) to 1.2104 (full one-hot: 1.2146).
- dates and timestamps (text such as ``2024-03-05 14:30`` or pyarrow date types) → numeric parts: year,
  month, day, weekday, hour and minute when present, days since 1970 (mlplab.data.dates).
- text that is numbers with units or separators (``1,234 €``, ``45 %``) → numeric (mlplab.data.units).
- dropped with a notice: ``drop``, all-missing and constant columns, and row IDs unless named in ``keep``: a
  column unique per row (at least ``MIN_ID_ROWS`` training rows), text, or integers that are consecutive-ish
  (span under ``ID_SPAN`` × rows) or increase with the row order. Floats never are (prices may all differ).
  A column that restates the target is refused (mlplab.data.target.leaks) unless named in ``allow_leak``.

The cells are read as numbers by mlplab.data.cells (which also gives an exported graph its inputs).
Saved as JSON (kinds, categories, levels, the report) plus arrays (the numeric statistics, the level means);
never pickled.
``report`` lists every choice in one line each (a run writes it to ``columns.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from mlplab.data import dates, target_encoding, units
from mlplab.data.cells import codes_of, log_other, number_blocks, numbers
from mlplab.data.csv_stream import release_memory
from mlplab.data.target import Target, as_text, leaks, take

MAX_CATEGORIES = 32
MIN_COUNT = 3
MAX_INT_CATEGORIES = 10
MIN_ID_ROWS = 20   # fewer rows: values all distinct by chance (12 ages, 12 prices) say nothing
ID_SPAN = 4        # integers all distinct within max − min < ID_SPAN · rows are consecutive-ish: numbering
SCALINGS = ("robust", "standard")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str                                   # numeric | categorical
    categories: tuple[str, ...] = ()            # categorical: one slot each, then "other/missing"
    indicator: bool = False                     # numeric: a missing-indicator column follows
    source: str = ""                            # the table's column it is read from ("": name)
    read: str = ""                              # numeric: how cells become numbers (mlplab.data.cells.numbers)
    levels: tuple[str, ...] = ()                # read "means": the levels whose target means it takes

    @property
    def column(self) -> str:
        return self.source or self.name

    @property
    def width(self) -> int:
        return len(self.categories) + 1 if self.kind == "categorical" else 1 + self.indicator


class Columns:
    """The fitted preprocessor: ``transform(table) -> float32 (N, width)``; see the module docstring."""

    def __init__(self, target: Target, columns: list[Column], fill: np.ndarray, center: np.ndarray,
                 factor: np.ndarray, scaling: str = "robust", ignored: tuple[str, ...] = (),
                 report: tuple[str, ...] = (), means: dict[str, np.ndarray] | None = None):
        self.target, self.columns, self.scaling = target, list(columns), scaling
        self.fill, self.center, self.factor = (np.asarray(a, np.float64) for a in (fill, center, factor))
        self.ignored, self.report = tuple(ignored), tuple(report)
        self.means = {k: np.asarray(v, np.float64) for k, v in (means or {}).items()}  # read "means": (levels + 1,)
        self.out_of_fold_ = {}  # after fit: {name: the training rows' out-of-fold means}, not saved

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @classmethod
    def fit(cls, table, target: Target, *, rows: np.ndarray | None = None, categorical=(), numeric=(), drop=(),
            allow_leak=(), keep=(), scaling: str = "robust", seed: int = 0) -> Columns:
        """Learn from the training rows of ``table`` (``rows``, else all; the target column among them) how to
        encode each column. The rows are taken one column at a time: no copy of the whole table. ``seed``:
        the folds of the out-of-fold target means."""
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}; got {scaling!r}")
        names = table.column_names
        for flag, given in (("drop", drop), ("categorical", categorical), ("numeric", numeric),
                            ("allow-leak", allow_leak), ("keep", keep)):
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
        columns, stats, ignored, means, oof, y = [], [], list(drop), {}, {}, None

        def add_numeric(column: Column, x: np.ndarray, what: str = "numeric") -> str | None:
            """The numeric column ``column`` of training values ``x`` (NaN: missing), or why it is dropped."""
            ok = x[~np.isnan(x)] if np.isnan(x).any() else x
            if np.ptp(ok) == 0 and len(ok) == len(x):
                return f"dropped: constant ({ok[0]:g})"
            if len(ok) == 0:
                return "dropped: every cell is missing"
            columns.append(replace(column, indicator=column.indicator and len(ok) < len(x)))
            stats.append(_scale(ok, scaling))
            report.append(f"{column.name}: {what}, median {stats[-1][0]:.4g}, {scaling} scaling"
                          + (f", {len(x) - len(ok)} missing → median"
                             + (" + indicator" if columns[-1].indicator else "") if len(ok) < len(x) else ""))
            return None

        for name in kept:
            col, why = take(table.column(name), rows), None
            free = name not in categorical and name not in numeric  # mlplab decides its kind
            if col.null_count == len(col):
                why = "dropped: every cell is missing"
            elif _is_number(col) and (name in numeric or (free and _is_numeric(col))):
                if free and name not in keep and _row_id(col, rows):
                    why = f"dropped, unique per row (a row ID: {_row_id(col, rows)}); keep it with --keep {name}"
                else:
                    why = add_numeric(Column(name, "numeric", indicator=True), numbers(Column(name, "numeric"), col))
            elif name not in categorical and (fmt := dates.date_format(col)):
                parts = [p for p in dates.PARTS if p not in ("hour", "minute") or dates.timed(col, fmt)]
                report.append(f"{name}: dates ({col.drop_null()[0].as_py()}) read as {', '.join(parts[:-1])} "
                              "and days since 1970-01-01")
                values = dates.parts(col, fmt, parts)
                whys = {p: add_numeric(Column(f"{name}.{p}", "numeric", indicator=p == "days", source=name,
                                              read=f"date:{fmt}:{p}"), values.pop(p)) for p in parts}
                report.extend(f"{name}.{p}: {w}" for p, w in whys.items() if w)
                why = "dropped: no part of its dates varies" if all(whys.values()) else None
            elif name not in categorical and (found := units.unit_format(col)):
                decimal, unit = found
                what = f"numbers with units ({unit})" if unit else "numbers with separators"
                what += ", ',' the decimal mark" if decimal == "," else ""
                why = add_numeric(Column(name, "numeric", indicator=True, read=f"units:{decimal}"),
                                  units.numbers(col, decimal), f"{what} read as numeric")
            elif name in numeric:
                raise ValueError(f"--numeric {name}: the column holds text such as {col.drop_null()[0].as_py()!r}")
            else:
                text = as_text(col)
                counts = text.value_counts().to_pylist()
                counts = sorted(((c["counts"], c["values"]) for c in counts if c["values"] is not None),
                                key=lambda t: (-t[0], t[1]))
                if free and name not in keep and len(counts) >= MIN_ID_ROWS and counts[0][0] == 1:
                    why = f"dropped, unique per row (a row ID or free text); keep it with --keep {name}"
                elif len(counts) == 1 and col.null_count == 0:
                    why = f"dropped: constant ({counts[0][1]!r})"
                else:
                    cats = tuple(v for n, v in counts if n >= MIN_COUNT)[:MAX_CATEGORIES]
                    columns.append(Column(name, "categorical", categories=cats))
                    rest = len(counts) - len(cats)
                    report.append(f"{name}: categorical, {len(cats)} values ({', '.join(cats[:6])}"
                                  f"{', ...' if len(cats) > 6 else ''}) + other"
                                  + (f" (also {rest} rare values)" if rest else "")
                                  + (f", {col.null_count} missing → other" if col.null_count else ""))
                    if sum(n >= MIN_COUNT for n, _ in counts) > MAX_CATEGORIES:  # many levels: their target means
                        if y is None:
                            y = target.encode(take(table.column(target.name), rows), "training rows")
                            y = target_encoding.targets(y, target.task, len(target.class_names or ()))
                        levels = tuple(v for _, v in counts)
                        codes, _ = codes_of(text, levels)
                        table_means = target_encoding.means(codes, y, len(levels))
                        train_means = target_encoding.out_of_fold(codes, y, len(levels), seed)
                        report.append(f"{name}: {len(levels)} levels also encoded by their smoothed target "
                                      f"{'mean' if target.task == 'regression' else 'rate'} (m = "
                                      f"{target_encoding.SMOOTHING:g}; {target_encoding.FOLDS}-fold out of fold "
                                      "on the training rows)")
                        for j, label in enumerate(_mean_labels(target)):
                            c = Column(f"{name}.{label}", "numeric", source=name, read="means", levels=levels)
                            means[c.name], oof[c.name] = table_means[:, j], train_means[:, j]
                            why = add_numeric(c, oof[c.name].copy(), "target " + label)
                            if why:  # a constant mean (every level alike): nothing to add
                                del means[c.name], oof[c.name]
                                report.append(f"{c.name}: {why}")
                        why = None
                del text
            if why:
                ignored.append(name)
                report.append(f"{name}: {why}")
            del col
        if not columns:
            raise ValueError(f"no usable feature columns besides the target {target.name!r}: "
                             + ("; ".join(r for r in report[1:]) or "the table has no other column"))
        fill, center, factor = (np.array([s[i] for s in stats], np.float64) for i in range(3))
        out = cls(target, columns, fill, center, factor, scaling, tuple(ignored), (), means)
        out.report = tuple(report + [f"features: {len(columns)} columns → {out.width} inputs"])
        out.out_of_fold_ = oof
        return out

    def out_of_fold(self, x: np.ndarray) -> np.ndarray:
        """The matrix of the rows ``fit`` learned from (in its order) with each target-mean column made from
        their out-of-fold means instead (mlplab.data.target_encoding): what a model trains on. In place."""
        j, k = 0, 0
        for c in self.columns:
            if c.name in self.out_of_fold_:
                if len(x) != len(self.out_of_fold_[c.name]):
                    raise ValueError(f"out_of_fold takes the {len(self.out_of_fold_[c.name])} rows fit learned "
                                     f"from; got {len(x)}")
                z = self.out_of_fold_[c.name].copy()
                self.scale_(z, k)
                x[:, j] = z
            k += c.kind == "numeric"
            j += c.width
        return x

    def transform(self, table, log=None, source: str | None = None) -> np.ndarray:
        """Rows of ``table`` as float32 (N, width); notices (extra columns, unseen values) go to ``log``;
        ``source``: the file the rows were read from, named when a column is missing."""
        return self.encode(dict(zip(table.column_names, table.columns)), log, source=source)

    def encode(self, cells: dict, log=None, order: str = "C", source: str | None = None) -> np.ndarray:
        """``transform`` of a table given as ``{name: column}``, which it empties: each column is let go once
        encoded, so a caller that hands over the only references frees the table as the matrix fills (with
        ``order="F"`` the matrix is column-major, and only the columns written so far take memory)."""
        log = log or (lambda m: warnings.warn(m, stacklevel=3))
        self.check_names(list(cells), log, source)
        out = np.zeros((len(cells[self.columns[0].column]), self.width), np.float32, order=order)
        last = {c.column: i for i, c in enumerate(self.columns)}  # a column read by several is let go after the last
        j, k, other = 0, 0, {}
        for i, c in enumerate(self.columns):
            col = cells[c.column] if last[c.column] > i else cells.pop(c.column)
            if c.kind == "numeric":
                for start, x in number_blocks(c, col, self.means.get(c.name)):  # a block of rows at a time
                    miss = self.scale_(x, k)
                    out[start:start + len(x), j] = x
                    if c.indicator:
                        out[start:start + len(x), j + 1] = miss
                k += 1
            else:
                idx, other[c.name] = codes_of(col, c.categories)
                out[np.arange(len(idx)), j + idx] = 1.0
            del col
            release_memory()                                      # the column just encoded
            j += c.width
        cells.clear()  # the columns not used (the target, dropped ones)
        release_memory()
        log_other(other, log)
        return out

    def check_names(self, names: list[str], log, source: str | None = None) -> None:
        """Every trained column must be there (else one ValueError naming them, and ``source``, the file);
        extra ones get one notice."""
        missing = list(dict.fromkeys(c.column for c in self.columns if c.column not in names))
        if missing:
            raise ValueError(f"{source or 'the data'} lacks column(s) {missing} that the run was trained with; it "
                             f"has: {', '.join(names)}; give rows with the training file's columns")
        known = {c.column for c in self.columns} | set(self.ignored) | {self.target.name}
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
                             "indicator": c.indicator, "source": c.source, "read": c.read, "levels": list(c.levels)}
                            for c in self.columns]}
        arrays = {"fill": self.fill, "center": self.center, "factor": self.factor}
        return meta, arrays | {f"means.{name}": v for name, v in self.means.items()}

    @classmethod
    def from_files(cls, meta: dict, arrays: dict) -> Columns:
        columns = [Column(c["name"], c["kind"], tuple(c["categories"]), bool(c["indicator"]), c.get("source", ""),
                          c.get("read", ""), tuple(c.get("levels", ()))) for c in meta["columns"]]
        means = {k[len("means."):]: np.asarray(v) for k, v in arrays.items() if k.startswith("means.")}
        stats = (np.asarray(arrays[k]) for k in ("fill", "center", "factor"))
        return cls(Target.from_json(meta["target"]), columns, *stats, meta["scaling"], tuple(meta["ignored"]),
                   tuple(meta["report"]), means)


def _is_number(col) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(col.type) or pa.types.is_floating(col.type)


def _row_id(col, rows: np.ndarray | None) -> str:
    """Why the training cells ``col`` (an integer pyarrow column) look like a row ID, or "" when they do not:
    at least MIN_ID_ROWS, no two alike, no cell missing, and consecutive-ish or increasing with the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_integer(col.type) or col.null_count or len(col) < MIN_ID_ROWS:
        return ""
    if pc.count_distinct(col).as_py() < len(col):
        return ""
    lo, hi = pc.min_max(col).values()
    if hi.as_py() - lo.as_py() < ID_SPAN * len(col):
        return "consecutive integers"
    x = col.to_numpy() if rows is None else col.to_numpy()[np.argsort(rows, kind="stable")]  # in table order
    step = np.diff(x)
    return "integers increasing with the rows" if (step > 0).all() or (step < 0).all() else ""


def _mean_labels(target: Target) -> list[str]:
    """The target-mean columns of a many-level column: ``mean`` (regression), ``rate.<class>`` per class
    (multiclass), of the positive class (binary)."""
    if target.task == "regression":
        return ["mean"]
    names = target.class_names if target.task == "multiclass" else target.class_names[1:]
    return [f"rate.{n}" for n in names]


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
