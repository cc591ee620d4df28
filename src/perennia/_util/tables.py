"""Columns and tables from pandas, polars, pyarrow, numpy and plain Python, read one way.

Every module that takes user data (metrics, the evaluator, signatures, flavors, dataset
descriptors) converts it here, so a pandas Series, a polars Series, an Arrow array and a list
holding the same values give the same numpy array, and a polars frame or an Arrow table gives
the pandas DataFrame its own library would.

A library is recognised by the module its class comes from, so nothing is imported to find out
(an object of a polars class means polars is already loaded). Nulls follow one rule whichever
library holds them: integers with nulls become float64 with NaN (what all three libraries do
for int64 already), floats keep their type with NaN, and any other column with nulls becomes an
object array holding None. Lists and other Python objects go through `numpy.asarray`, then
numbers mixed with None become float64 with NaN by the same rule.

Errors are TypeError (a kind of object we do not read) or ValueError (readable, wrong shape),
each one line naming the argument and what is accepted; callers re-raise them as their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LIBRARIES = ("pandas", "polars", "pyarrow", "numpy")
TABLES = "a pandas or polars DataFrame, a pyarrow Table, a mapping of columns or a 2-D array"


def library(data: Any) -> str | None:
    """Return "pandas", "polars", "pyarrow" or "numpy" for an object of that library, else None."""
    # Walking the MRO recognises subclasses defined elsewhere (a GeoDataFrame is a DataFrame).
    for cls in type(data).__mro__:
        top = cls.__module__.partition(".")[0]
        if top in LIBRARIES:
            return top
    return None


def is_table(data: Any) -> bool:
    """Return whether `data` is a pandas or polars DataFrame or a pyarrow Table or RecordBatch."""
    found = library(data)
    if found == "pandas":
        import pandas as pd

        return isinstance(data, pd.DataFrame)
    if found == "polars":
        import polars as pl

        return isinstance(data, pl.DataFrame)
    if found == "pyarrow":
        import pyarrow as pa

        return isinstance(data, pa.Table | pa.RecordBatch)
    return False


def column_name(values: Any) -> Any:
    """Return the name of a pandas or polars Series, or None (unnamed, or not a Series)."""
    found = library(values)
    if found == "pandas":
        import pandas as pd

        return values.name if isinstance(values, pd.Series) else None
    if found == "polars":
        import polars as pl

        # polars names every Series; "" is its name for "none given".
        return (values.name or None) if isinstance(values, pl.Series) else None
    return None


def column_names(data: Any) -> list[str]:
    """Return the column names of a table or mapping of columns as strings ([] otherwise)."""
    if isinstance(data, Mapping):
        return [str(key) for key in data]
    if not is_table(data):
        return []
    if library(data) == "pyarrow":
        return list(data.schema.names)
    return [str(name) for name in data.columns]


def row_count(data: Any) -> int:
    """Return the number of rows of a table, mapping of columns, array or sequence."""
    if isinstance(data, Mapping):
        return len(next(iter(data.values()), []))
    shape = getattr(data, "shape", None)
    if shape:
        return int(shape[0])
    return len(data)


def to_numpy(values: Any, name: str = "values") -> Any:
    """Return `values` (a column, table, array, sequence or scalar) as a numpy array."""
    import numpy as np

    if isinstance(values, np.ndarray):
        return values
    found = library(values)
    if found == "pandas":
        return _from_pandas(values)
    if found == "polars":
        return _from_polars(values, name)
    if found == "pyarrow":
        return _from_arrow(values, name)
    try:
        array = np.asarray(values)
    except ValueError as exc:
        raise ValueError(
            f"{name} does not form an array ({exc}); rows need equal lengths"
        ) from None
    return _numbers_with_nulls(array) if array.dtype.kind == "O" else array


def to_1d(values: Any, name: str = "values") -> Any:
    """Return `values` as a 1-D numpy array (a one-column table or (n, 1) array is flattened)."""
    array = to_numpy(values, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one value per row), got shape {array.shape}"
        )
    return array


def column(data: Any, key: str, name: str = "data") -> Any:
    """Return the column `key` of a table or mapping of columns as a numpy array."""
    if isinstance(data, Mapping):
        return to_numpy(data[key], f"{name}[{key!r}]")
    if not is_table(data):
        raise TypeError(f"{name} must be a table to read column {key!r} from; got {_kind(data)}")
    if library(data) == "pandas":
        # Labels may be ints; callers name columns by their text, as column_names shows them.
        labels = {str(label): label for label in data.columns}
        return to_numpy(data[labels.get(key, key)], f"{name}[{key!r}]")
    return to_numpy(data[key], f"{name}[{key!r}]")


def select(data: Any, names: Sequence[str], name: str = "data") -> Any:
    """Return the columns `names` of a table in its own library (a mapping gives pandas)."""
    names = list(names)
    if isinstance(data, Mapping):
        return to_pandas({key: data[key] for key in names}, name)
    if not is_table(data):
        raise TypeError(f"{name} must be {TABLES} to select columns from; got {_kind(data)}")
    if library(data) == "pandas":
        labels = {str(label): label for label in data.columns}
        return data[[labels.get(key, key) for key in names]]
    return data.select(names)


def to_pandas(data: Any, name: str = "data", *, prefix: str = "x") -> Any:
    """Return a table, mapping of columns or 2-D array as a pandas DataFrame.

    A 2-D array's columns are named `prefix` + position (x0, x1, ...). Polars frames go
    through Arrow when pyarrow is installed, as `polars.DataFrame.to_pandas` does.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if is_table(data):
        if library(data) == "polars":
            return _polars_to_pandas(data)
        return data.to_pandas()
    if isinstance(data, Mapping):
        # pandas keeps its own columns (categoricals, index); other libraries' become numpy.
        columns = {
            key: to_numpy(value, f"{name}[{key!r}]")
            if library(value) in ("polars", "pyarrow")
            else value
            for key, value in data.items()
        }
        try:
            return pd.DataFrame(columns)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{name} must map column names to equal-length columns: {exc}"
            ) from None
    array = to_numpy(data, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be {TABLES}; got {_kind(data)} of shape {array.shape}")
    return pd.DataFrame(array, columns=[f"{prefix}{i}" for i in range(array.shape[1])])


# -- one library at a time -----------------------------------------------------------------


def _from_pandas(values: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.DataFrame):
        return _stack(
            [_from_pandas(values.iloc[:, i]) for i in range(values.shape[1])], len(values)
        )
    if not hasattr(values, "to_numpy") or not hasattr(values, "dtype"):
        return np.asarray(values)  # a Timestamp, NA or other scalar
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return values.to_numpy()
    nulls = np.asarray(pd.isna(values), dtype=bool)
    numbers = getattr(dtype, "numpy_dtype", None)
    if numbers is not None and numbers.kind in "iuf":
        # Masked ints and floats (Int64, Float32, ...): NaN where the mask is.
        if not nulls.any():
            return values.to_numpy(dtype=numbers)
        target = numbers if numbers.kind == "f" else np.dtype(np.float64)
        return values.to_numpy(dtype=target, na_value=np.nan)
    if numbers is not None and numbers.kind == "b" and not nulls.any():
        return values.to_numpy(dtype=bool)
    array = values.to_numpy()
    if array.dtype == object and nulls.any():
        # NaN, NA and NaT in an object column all become None, as polars and Arrow give them,
        # and numbers with such holes become floats, as a list of them would.
        array = array.copy()
        array[nulls] = None
        return _numbers_with_nulls(array)
    return array


def _from_polars(values: Any, name: str) -> Any:
    import polars as pl

    if isinstance(values, pl.DataFrame):
        return _stack(
            [_from_polars(series, name) for series in values.get_columns()], values.height
        )
    if not isinstance(values, pl.Series):
        raise TypeError(
            f"{name} must be a polars DataFrame or Series, got {_kind(values)}"
            + ("; call .collect() first" if isinstance(values, pl.LazyFrame) else "")
        )
    if values.dtype.is_integer() and values.null_count():
        # polars gives Int8..Int32 with nulls as float32; the rule is float64, as for Int64.
        values = values.cast(pl.Float64)
    return values.to_numpy()


def _from_arrow(values: Any, name: str) -> Any:
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.Table | pa.RecordBatch):
        return _stack(
            [_from_arrow(values.column(i), name) for i in range(values.num_columns)],
            values.num_rows,
        )
    if isinstance(values, pa.Scalar):
        return np.asarray(values.as_py())
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        raise TypeError(
            f"{name} must be a pyarrow Array, ChunkedArray or Table, got {_kind(values)}"
        )
    # zero_copy_only would refuse nulls and strings; a copy is what the caller needs then.
    # (Arrow already gives integers of every width with nulls as float64 with NaN.)
    return values.to_numpy(zero_copy_only=False)


def _numbers_with_nulls(array: Any) -> Any:
    """Return an object array of numbers and None as float64 with NaN, as a column would be."""
    import numbers

    import numpy as np

    flat = array.ravel()
    nulls = np.fromiter((value is None for value in flat), bool, flat.size)
    present = flat[~nulls]
    if not nulls.any() or not present.size:
        return array
    if not all(
        isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
        for value in present
    ):
        return array
    out = np.full(flat.size, np.nan)
    out[~nulls] = present.astype(np.float64)
    return out.reshape(array.shape)


def _stack(columns: list[Any], n: int) -> Any:
    """Return 1-D columns side by side as one 2-D array of their common type."""
    import numpy as np

    if not columns:
        return np.empty((n, 0))
    dtypes = {array.dtype for array in columns}
    if len(dtypes) == 1:
        dtype = dtypes.pop()
    elif all(d.kind in "iufc" for d in dtypes):
        dtype = np.result_type(*dtypes)
    else:
        # numpy would turn numbers and text into text, and booleans into numbers; pandas keeps
        # such values as they are, in objects, and so do we.
        dtype = np.dtype(object)
    out = np.empty((n, len(columns)), dtype=dtype)
    for i, array in enumerate(columns):
        out[:, i] = array
    return out


def _polars_to_pandas(frame: Any) -> Any:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None:
        return frame.to_pandas()
    # Without pyarrow, column by column through numpy; categoricals are rebuilt, and the rest
    # matches Arrow's conversion for numbers, booleans, strings and naive datetimes.
    import pandas as pd
    import polars as pl

    columns = {}
    for series in frame.get_columns():
        values = _from_polars(series, series.name)
        if isinstance(series.dtype, pl.Enum):
            values = pd.Categorical(values, categories=list(series.dtype.categories), ordered=True)
        elif isinstance(series.dtype, pl.Categorical):
            values = pd.Categorical(values)
        columns[series.name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(frame.height))


def _kind(data: Any) -> str:
    found = library(data)
    return f"{found} {type(data).__name__}" if found else type(data).__name__
