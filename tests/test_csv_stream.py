"""mlplab.data.csv_stream: number chunks read from their buffers equal pyarrow's own values, at every offset."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlplab.data.csv_stream import _valid, _values


@pytest.mark.parametrize("kind", [pa.int64(), pa.int32(), pa.float64(), pa.float32()])
def test_values_and_validity_of_sliced_chunks_equal_pyarrows(kind):
    rng = np.random.default_rng(0)
    cells = [None if rng.random() < 0.3 else int(rng.integers(-50, 50)) for _ in range(37)]
    array = pa.array(cells, kind)
    for start in range(0, 20):
        chunk = array.slice(start, 13)
        expected = [0 if v is None else v for v in chunk.to_pylist()]
        np.testing.assert_array_equal(_values(chunk), expected)
        np.testing.assert_array_equal(_valid(chunk), [v is not None for v in chunk.to_pylist()])
    whole = pa.array([1.5, 2.5], kind) if pa.types.is_floating(kind) else pa.array([1, 2], kind)
    np.testing.assert_array_equal(_valid(whole), [True, True])  # no bitmap at all
