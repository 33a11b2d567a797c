"""What a trained model needs to know about its data: input shape, task, classes and the scaling learned from
the training rows. A run saves it (``data.json`` + ``preprocessing.safetensors``, never a pickle) and
``Run.predict`` applies it, so raw rows in give what the run itself predicted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mlplab.data.dataset import Dataset, standardize


@dataclass(frozen=True)
class Schema:
    name: str
    task: str                                   # multiclass | binary | regression
    input_shape: tuple[int, ...]
    output_size: int
    class_names: tuple[str, ...] | None = None
    labels: str = "index"                       # what predict returns: class "index" 0..C−1, or class "name"
    image_shape: tuple[int, ...] | None = None
    feature_stats: tuple[Tensor, Tensor] | None = None   # float64 (mean, scale): inputs = (raw − mean) / scale
    target_stats: tuple[Tensor, Tensor] | None = None    # regression targets likewise
    columns: object | None = None                        # a table's column preprocessor (mlplab.data.columns)

    @classmethod
    def of(cls, data: Dataset) -> Schema:
        return cls(data.name, data.task, tuple(data.input_shape), data.output_size, data.class_names,
                   data.labels, data.image_shape, data.feature_stats, data.target_stats, data.columns)

    def inputs(self, x) -> Tensor:
        """Raw rows (array, tensor or list) as the model takes them: float32, standardised as in training.
        A run trained on a table also takes a table (pyarrow Table or pandas DataFrame) and encodes its columns."""
        from mlplab.data.table import is_table, to_arrow

        if x is None:  # e.g. run.predict(data.x_test) of a Dataset made without test rows
            raise TypeError("inputs must be rows to predict (an array, a tensor or a table); got None (a Dataset "
                            "without test rows has x_test None: give it test rows, or predict data.x_val)")
        if self.columns is not None and is_table(x):  # else: rows already encoded, (N, columns.width)
            x = self.columns.transform(to_arrow(x))
        if isinstance(x, Tensor):
            x = x.detach().cpu()
        else:
            x = np.asarray(x)
            if x.dtype.kind not in "biuf":
                raise TypeError(f"inputs must be numbers; got dtype {x.dtype}")
            x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != self.input_shape:
            one = x.ndim == len(self.input_shape) and tuple(x.shape) == self.input_shape
            raise ValueError(f"inputs must have shape (N, {', '.join(map(str, self.input_shape))}) as in training; "
                             f"got {tuple(x.shape)}" + ("; for one sample use x[None]" if one else "")
                             + ("; or pass the table (a DataFrame or pyarrow Table)" if self.columns is not None else ""))
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError("inputs hold NaN or infinite values; impute or drop those rows first")
        return standardize(x, self.feature_stats)

    def target_units(self, y: Tensor) -> Tensor:
        """Regression outputs back in the target's own units (float64)."""
        y = y.double()
        return y if self.target_stats is None else y * self.target_stats[1] + self.target_stats[0]

    def to_files(self) -> tuple[dict, dict[str, Tensor]]:
        """(JSON-able metadata, tensors) to save beside the weights."""
        meta = {"name": self.name, "task": self.task, "input_shape": list(self.input_shape),
                "output_size": self.output_size, "labels": self.labels,
                "class_names": None if self.class_names is None else list(self.class_names),
                "image_shape": None if self.image_shape is None else list(self.image_shape)}
        tensors = {}
        for key, stats in (("feature", self.feature_stats), ("target", self.target_stats)):
            if stats is not None:
                tensors[f"{key}_mean"], tensors[f"{key}_scale"] = (s.double().contiguous() for s in stats)
        if self.columns is not None:  # JSON in data.json, numeric statistics beside the scalers
            meta["columns"], arrays = self.columns.to_files()
            tensors.update({f"columns.{k}": torch.as_tensor(v).double().contiguous() for k, v in arrays.items()})
        return meta, tensors

    @classmethod
    def from_files(cls, meta: dict, tensors: dict[str, Tensor]) -> Schema:
        def stats(key):
            return (tensors[f"{key}_mean"], tensors[f"{key}_scale"]) if f"{key}_mean" in tensors else None

        columns = None
        if meta.get("columns") is not None:
            from mlplab.data.columns import Columns

            arrays = {k[len("columns."):]: v.numpy() for k, v in tensors.items() if k.startswith("columns.")}
            columns = Columns.from_files(meta["columns"], arrays)
        return cls(meta["name"], meta["task"], tuple(meta["input_shape"]), int(meta["output_size"]),
                   None if meta.get("class_names") is None else tuple(meta["class_names"]),
                   meta.get("labels", "index"), None if meta.get("image_shape") is None else tuple(meta["image_shape"]),
                   stats("feature"), stats("target"), columns)
