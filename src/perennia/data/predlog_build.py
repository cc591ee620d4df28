"""Many `PredictionBatch`es turned into one Arrow table, column by column.

Building an Arrow table costs a few hundred microseconds whatever its size (each kernel call
and array has a fixed cost), which at thousands of requests a second would be most of the
server's time. So `record` only checks lengths; the writer's thread builds one table per
flush from all its batches: ids are chained into one list and converted once, per-batch
constants become one `take`, and numpy columns of the same dtype are concatenated before a
single conversion. Batches whose columns are not uniform (different key sets, dtypes, pandas
objects) are built one by one and stacked with schema promotion.
"""

from __future__ import annotations

import functools
import itertools
import numbers
from collections.abc import Sequence
from typing import Any

from perennia.data.predlog_format import (
    BASE_COLUMNS,
    INPUT_PREFIX,
    MAX_ID_LENGTH,
    OUTPUT_PREFIX,
    PredictionBatch,
    check_deployment_name,
    concat_tables,
)
from perennia.errors import InvalidInput

_checked_deployment = functools.lru_cache(maxsize=512)(check_deployment_name)


class _NotUniform(Exception):
    """A column's values differ in kind across batches; build them one batch at a time."""


def check_batch(batch: PredictionBatch) -> int:
    """Return the batch's row count after the cheap checks (lengths, names); InvalidInput if bad."""
    if not isinstance(batch, PredictionBatch):
        raise InvalidInput(f"expected a PredictionBatch, got {type(batch).__name__}")
    _checked_deployment(batch.deployment)
    ids, request_ids = batch.prediction_ids, batch.request_ids
    if isinstance(ids, str) or isinstance(request_ids, str):
        raise InvalidInput("prediction_ids and request_ids must be lists of strings, one per row")
    n = len(ids)
    if len(request_ids) != n:
        raise InvalidInput(f"request_ids has {len(request_ids)} entries; expected {n}, one per row")
    for label, value in (("time_ms", batch.time_ms), ("latency_ms", batch.latency_ms)):
        if not isinstance(value, numbers.Real) and len(value) != n:
            raise InvalidInput(f"{label} has {len(value)} values; expected one number or {n}")
    if batch.ok and batch.error is not None:
        raise InvalidInput("a batch with ok=True must have error=None")
    for label, group in (("inputs", batch.inputs), ("outputs", batch.outputs)):
        for key, values in group.items():
            if not isinstance(key, str) or not key:
                raise InvalidInput(f"{label} key {key!r} must be a non-empty string")
            if getattr(values, "ndim", 1) not in (1, 2):
                raise InvalidInput(f"{label} column {key!r} must be 1-D or 2-D")
            if len(values) != n:
                raise InvalidInput(
                    f"{label} column {key!r} has {len(values)} values; expected {n}, one per row"
                )
    return n


def batch_table(batch: PredictionBatch) -> Any:
    """Return one batch as an Arrow table in the log's column layout; InvalidInput if malformed."""
    return build_table([batch])


def build_table(batches: Sequence[PredictionBatch], *, checked: bool = False) -> Any:
    """Return the rows of all batches as one Arrow table; InvalidInput if any batch is malformed."""
    import pyarrow as pa

    if not checked:  # the writer's batches passed check_batch when they were recorded
        for batch in batches:
            check_batch(batch)
    groups: dict[tuple[Any, ...], list[PredictionBatch]] = {}
    for batch in batches:
        groups.setdefault((tuple(batch.inputs), tuple(batch.outputs)), []).append(batch)
    tables = []
    for group in groups.values():
        try:
            tables.append(_group_table(group))
        except (_NotUniform, pa.ArrowException):
            tables += [_group_table([batch]) for batch in group]
    return tables[0] if len(tables) == 1 else concat_tables(tables)


def _group_table(batches: list[PredictionBatch]) -> Any:
    """Return the table of batches sharing input and output names."""
    import numpy as np
    import pyarrow as pa

    counts = np.fromiter((b.rows for b in batches), np.int64, len(batches))
    n = int(counts.sum())
    owner = pa.array(np.repeat(np.arange(len(batches)), counts))

    def constant(values: list[Any], kind: Any) -> Any:
        """Return one value per batch spread over that batch's rows."""
        return pa.array(values, type=kind).take(owner)

    columns = [
        _ids([b.prediction_ids for b in batches], "prediction_ids", n),
        _ids([b.request_ids for b in batches], "request_ids", n),
        _numbers([b.time_ms for b in batches], counts, "int64", "time_ms"),
        constant([b.deployment for b in batches], pa.string()),
        constant([str(b.variant) for b in batches], pa.string()),
        constant([str(b.model_name) for b in batches], pa.string()),
        constant([int(b.model_version) for b in batches], pa.int64()),
        _numbers([b.latency_ms for b in batches], counts, "float64", "latency_ms"),
        constant([bool(b.ok) for b in batches], pa.bool_()),
        constant([None if b.error is None else str(b.error) for b in batches], pa.string()),
        constant([bool(b.shadow) for b in batches], pa.bool_()),
    ]
    names = list(BASE_COLUMNS)
    for prefix, attribute in ((INPUT_PREFIX, "inputs"), (OUTPUT_PREFIX, "outputs")):
        for key in getattr(batches[0], attribute):
            values = [getattr(b, attribute)[key] for b in batches]
            for name, array in _value_columns(prefix + key, values):
                names.append(name)
                columns.append(array)
    if len(set(names)) != len(names):
        raise InvalidInput(
            f"batch columns {names} contain duplicates; rename the inputs or outputs"
        )
    return pa.Table.from_arrays(columns, names=names)


def _ids(lists: list[Any], label: str, n: int) -> Any:
    """Return the ids of all batches as one string array, checked column-wise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = list(
        itertools.chain.from_iterable(
            v.to_pylist() if isinstance(v, pa.Array) else v for v in lists
        )
    )
    try:
        array = pa.array(flat, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InvalidInput(f"{label} must be strings, one per row") from None
    if n and array.null_count:
        raise InvalidInput(f"{label} must not contain null ids")
    if n:
        lengths = pc.min_max(pc.utf8_length(array)).as_py()
        if lengths["min"] == 0 or lengths["max"] > MAX_ID_LENGTH:
            raise InvalidInput(
                f"{label} must be non-empty strings of at most {MAX_ID_LENGTH} characters"
            )
    return array


def _numbers(values: list[Any], counts: Any, dtype: str, label: str) -> Any:
    """Return per-batch scalars or per-row sequences as one Arrow array of `dtype`."""
    import numpy as np
    import pyarrow as pa

    try:
        if all(isinstance(v, numbers.Real) for v in values):
            joined = np.repeat(np.asarray(values, dtype=dtype), counts)
        else:
            joined = np.concatenate(
                [
                    np.full(c, v, dtype=dtype)
                    if isinstance(v, numbers.Real)
                    else np.asarray(v, dtype=dtype)
                    for v, c in zip(values, counts.tolist(), strict=True)
                ]
            )
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{label} must be a number or one number per row") from None
    return pa.array(joined)


def _value_columns(name: str, values: list[Any]) -> list[tuple[str, Any]]:
    """Return the (column name, Arrow array) pairs of one input or output across batches."""
    import numpy as np
    import pyarrow as pa

    # A 2-D DataFrame or tensor of another library is split like a numpy matrix.
    values = [np.asarray(v) if getattr(v, "ndim", 1) == 2 else v for v in values]
    first = values[0]
    if all(isinstance(v, np.ndarray) for v in values):
        if any(v.dtype != first.dtype or v.shape[1:] != first.shape[1:] for v in values):
            raise _NotUniform(name)
        joined = first if len(values) == 1 else np.concatenate(values)
        if joined.ndim == 2:
            return [(f"{name}.{j}", _array(joined[:, j])) for j in range(joined.shape[1])]
        return [(name, _array(joined))]
    if all(isinstance(v, list | tuple) for v in values):
        return [(name, _array(list(itertools.chain.from_iterable(values))))]
    if all(isinstance(v, pa.Array) and v.type == first.type for v in values):
        return [(name, _array(pa.concat_arrays(values)))]
    if len(values) == 1:
        return [(name, _array(first))]
    raise _NotUniform(name)


def _array(values: Any) -> Any:
    """Return one column as an Arrow array: numbers as float64, mixed-type objects as strings."""
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        values = values.astype(np.float64, copy=False)
    try:
        if isinstance(values, pa.Array):
            array = values
        elif isinstance(values, np.ndarray):
            # Object arrays come from pandas, where None and NaN both mean "missing".
            array = pa.array(values, from_pandas=values.dtype == object)
        elif type(values).__module__.startswith("pandas"):
            array = pa.array(values, from_pandas=True)
        else:
            array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed Python types in one column (1 and "a"): keep every value, as text.
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        # One numeric type for every file: Spark cannot merge int64 with float64 (or float32)
        # across files, and the same input arrives as 3 in one request and 3.5 in the next.
        array = array.cast(pa.float64(), safe=False)
    return array
