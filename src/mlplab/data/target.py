"""The target column of a table: which task it asks for (and why), its labels as numbers, and leaks.

``Target.detect(values, name, task)`` chooses the task from the column alone and says why in one line,
e.g. ``task: binary (target y has 2 values: N, Y)``; an integer target read as classes says how to ask for
a regression instead. Class names are kept as the file spells them, sorted
(numbers numerically), so the second of two classes is the positive one (``1``, ``Y``, ``yes``, ``True``).
``leaks(table, target)`` finds feature columns that are the target again (identical, or a 1:1 relabelling,
like titanic's ``alive`` for ``survived``), which would make any model look perfect and be useless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("auto", "multiclass", "binary", "regression")
MAX_INT_CLASSES = 10  # an integer target with at most this many distinct values is a class label
HEAD_ROWS = 8192      # leaks: the table's rows looked at first


def as_text(column):
    """The column as text; whole floats (1.0) as integers (1), so 1.0 and 1 are one class."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        try:
            column = column.cast(pa.int64())  # a safe cast: fails on 1.5, keeps missing cells missing
        except pa.ArrowInvalid:
            pass
    return pc.cast(column, pa.string())


@dataclass(frozen=True)
class Target:
    name: str
    task: str                                   # multiclass | binary | regression
    class_names: tuple[str, ...] | None = None  # sorted as the file spells them; None for regression
    reason: str = ""

    @classmethod
    def detect(cls, values, name: str, task: str = "auto") -> Target:
        """The task ``values`` (a pyarrow column without missing cells) asks for, unless ``task`` says it."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
        distinct = pc.unique(values)
        k = len(distinct)
        if task == "regression":
            if not numeric:
                raise ValueError(f"task regression needs a numeric target; column {name!r} holds text such as "
                                 f"{distinct[0].as_py()!r}; use --task auto for classes")
            return cls(name, "regression", None,
                       f"task: regression (asked for; target {name} holds {k} distinct numbers)")
        whole = pa.types.is_integer(values.type) or (
            numeric and bool(np.all(np.mod(values.to_numpy(zero_copy_only=False), 1) == 0)))
        if task == "auto" and numeric and not (whole and k <= MAX_INT_CLASSES):
            return cls(name, "regression", None, f"task: regression (target {name} holds {k} distinct numbers; "
                                                 "pass --task multiclass for classes)")
        if numeric:
            names = tuple(str(int(v)) if whole else str(v) for v in sorted(distinct.to_pylist()))
        else:
            names = tuple(sorted(str(v) for v in pc.unique(as_text(values)).to_pylist()))
        if len(names) < 2:
            raise ValueError(f"target {name!r} holds one value only ({names[0]!r}); a classifier needs at least "
                             "two classes among the rows")
        if task == "binary" and len(names) != 2:
            raise ValueError(f"task binary needs a target with 2 values; {name!r} has {len(names)}: {_show(names)}")
        chosen = task if task != "auto" else ("binary" if len(names) == 2 else "multiclass")
        why = "asked for; " if task != "auto" else ""
        if task == "auto" and chosen == "multiclass" and numeric:  # an ordinal score may be a regression
            values = sorted(int(v) for v in names)
            span = f"{values[0]}..{values[-1]}" if values[-1] - values[0] == len(values) - 1 else _show(names)
            return cls(name, chosen, names, f"task: multiclass (target {name} has {len(names)} integer values: "
                                            f"{span}); for a regression pass --task regression")
        return cls(name, chosen, names, f"task: {chosen} ({why}target {name} has {len(names)} values: {_show(names)})")

    def encode(self, values, what: str = "data") -> np.ndarray:
        """Labels as numbers: class indices (int64) in class_names order, else float64 values."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.task == "regression":
            try:
                return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                raise ValueError(f"target {self.name!r} in the {what} holds text; this run predicts numbers") from None
        text = as_text(values)
        index = pc.index_in(text, value_set=pa.array(self.class_names, pa.string()))
        unseen = pc.unique(pc.filter(text, pc.is_null(index))).to_pylist()
        if unseen:
            raise ValueError(f"target {self.name!r} in the {what} holds labels never seen in training: "
                             f"{_show(tuple(map(str, unseen)))}; the run knows {_show(self.class_names)}")
        return index.to_numpy(zero_copy_only=False).astype(np.int64)

    def to_json(self) -> dict:
        return {"name": self.name, "task": self.task, "reason": self.reason,
                "class_names": None if self.class_names is None else list(self.class_names)}

    @classmethod
    def from_json(cls, meta: dict) -> Target:
        names = meta.get("class_names")
        return cls(meta["name"], meta["task"], None if names is None else tuple(names), meta.get("reason", ""))


def take(column, rows: np.ndarray | None):
    """The cells ``rows`` of a pyarrow column (all of them when None)."""
    return column if rows is None else column.take(rows)


def leaks(table, target: Target, rows: np.ndarray | None = None) -> list[tuple[str, str]]:
    """Feature columns that restate the target in the rows ``rows`` (all when None): ``(column, how)`` for
    each, in table order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    head = None if rows is None else rows[rows < HEAD_ROWS]  # ``rows`` among the table's first HEAD_ROWS
    b = t = None  # the target's cells in ``rows``: as float64 (regression) or text, when first needed
    found = []
    for name in table.column_names:
        if name == target.name:
            continue
        if target.task == "regression":
            col = take(table.column(name), rows)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)) or col.null_count:
                continue
            a = np.asarray(col.to_numpy(), np.float64)
            if b is None:
                b = np.asarray(take(table.column(target.name), rows).to_numpy(), np.float64)
            if np.array_equal(a, b):
                found.append((name, "is identical to the target"))
            elif a.std() > 0 and b.std() > 0 and abs(np.corrcoef(a, b)[0, 1]) > 1 - 1e-9:
                found.append((name, "is a linear function of the target"))
            continue
        # More distinct values in a few rows than the target has classes: no 1:1 relabelling, and no need to
        # write every cell as text. (A few rows alone may read whole floats as integers, which merges 0 and -0
        # but splits nothing, so they never have more distinct values than as part of the column.)
        few = table.column(name).slice(0, HEAD_ROWS)
        few = few if head is None else few.take(head)
        if pc.count_distinct(pc.fill_null(as_text(few), "\x00missing")).as_py() > len(target.class_names):
            continue
        if t is None:
            t = as_text(take(table.column(target.name), rows))
            k_t = pc.count_distinct(t).as_py()
        f = pc.fill_null(as_text(take(table.column(name), rows)), "\x00missing")
        k_f = pc.count_distinct(f).as_py()
        pairs = pc.count_distinct(pc.binary_join_element_wise(f, t, "\x1f")).as_py()
        if k_f == k_t == pairs:
            found.append((name, "is identical to the target" if pc.all(pc.equal(f, t)).as_py()
                          else "relabels the target one to one"))
    return found


def _show(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 8 else f"{', '.join(names[:6])}, ... ({len(names)} in all)"
