"""One column of input data: read into our type vocabulary, then cast to a signature's dtype.

The rules are those of `perennia.models.signature` (see its docstring): only lossless casts,
decided on whole arrays, with the first offending row reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia._util import tables

if TYPE_CHECKING:
    from perennia.models.signature import ColumnSpec

INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOATS = ("float32", "float64")
# The largest integer each float type holds exactly: 2 to the width of its significand.
_EXACT = {"float32": 2**24, "float64": 2**53}
_NUMBERS = (*INTEGERS, "float16", *FLOATS)
# pandas' infer_dtype names for object columns, in our vocabulary; the rest are "mixed".
_OBJECT_KINDS = {
    "string": "string",
    "bytes": "binary",
    "boolean": "bool",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
    "empty": "null",
}


@dataclass(frozen=True)
class Column:
    """A column's kind in our vocabulary, its values (numpy, for numbers) and its null mask."""

    kind: str
    values: Any
    mask: Any = None

    def has_nulls(self) -> bool:
        """Return whether any value is null."""
        return self.mask is not None and bool(self.mask.any())


def from_numpy(values: Any) -> Column:
    """Return the Column a numpy array holds (object arrays by their values)."""
    import numpy as np

    code = values.dtype.kind
    if code == "b" or code in "iu":
        return Column(values.dtype.name, values)
    if code == "f":
        return Column(values.dtype.name, values, np.isnan(values))
    if code == "O":
        return from_objects(values)
    kinds = {"U": "string", "S": "binary", "M": "datetime"}
    return Column(kinds.get(code, values.dtype.name), values)


def from_objects(values: Any) -> Column:
    """Return the Column an object array holds, typed by what its values are."""
    import numpy as np
    import pandas as pd

    kind = _OBJECT_KINDS.get(pd.api.types.infer_dtype(values, skipna=True), "mixed")
    mask = pd.isna(values)
    if kind not in ("int64", "float64", "bool"):
        return Column(kind, values, mask)
    filled = np.where(mask, False if kind == "bool" else 0, values)
    if kind != "int64":
        return Column(kind, filled.astype(kind), mask)
    for dtype in ("int64", "uint64"):
        try:
            return Column(dtype, filled.astype(dtype), mask)
        except OverflowError:
            continue
    return Column("integers beyond 64 bits", values, mask)


def read_column(series: Any) -> Column:
    """Return the Column a pandas Series holds, nullable and categorical dtypes included."""
    import numpy as np
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return Column("category", series, series.isna().to_numpy())
    if isinstance(dtype, np.dtype):
        return from_numpy(series.to_numpy())
    mask = series.isna().to_numpy()
    if types.is_bool_dtype(dtype) or types.is_integer_dtype(dtype) or types.is_float_dtype(dtype):
        numbers = np.dtype(dtype.numpy_dtype)
        fill = {"f": np.nan, "b": False}.get(numbers.kind, 0)
        return Column(numbers.name, series.to_numpy(dtype=numbers, na_value=fill), mask)
    if types.is_datetime64_any_dtype(dtype):
        return Column("datetime", series, mask)
    if types.is_string_dtype(dtype):
        return Column("string", series, mask)
    return Column(str(dtype), series, mask)


def compatible(source: str, target: str) -> bool:
    """Return whether values of type `source` may ever be cast to `target`."""
    if source == "null":
        return True
    if target == "bool":
        return source == "bool"
    if target in INTEGERS or target in FLOATS:
        return source in _NUMBERS
    if target == "category":
        return source in ("category", "string")
    return source == target


def cast(col: Column, spec: ColumnSpec, original: Any) -> tuple[Any, Any]:
    """Return (converted, None), or (None, (what was found, first bad position, its value))."""
    import numpy as np
    import pandas as pd

    target = spec.dtype
    if col.kind == "category" and target == "string":
        categories = original.cat.categories
        if pd.api.types.infer_dtype(categories, skipna=True) in ("string", "empty"):
            return original.astype(object), None
        return None, mismatch(col, target, original)
    if not compatible(col.kind, target):
        return None, mismatch(col, target, original)
    if target == "bool" or target in INTEGERS or target in FLOATS:
        if col.kind == "null":
            n = len(original)
            col = Column(target, np.zeros(n, dtype=target), np.ones(n, dtype=bool))
        return cast_number(col, target, spec.required)
    is_pandas = isinstance(original, pd.Series)
    if target == "category" and is_pandas and col.kind != "category":
        return original.astype("category"), None
    if target == "datetime" and str(getattr(original, "dtype", "")) == "object":
        return pd.to_datetime(original), None
    return original, None


def cast_number(col: Column, target: str, required: bool) -> tuple[Any, Any]:
    """Return (numbers as `target`, None), or (None, misfit) when a value would change."""
    import numpy as np

    values, mask = col.values, col.mask
    bad = first_inexact(values, mask, col.kind, target)
    if bad is not None:
        return None, (f"{col.kind} values that {target} cannot hold exactly", bad, values[bad])
    nulls = col.has_nulls()
    if target in FLOATS:
        out = values.astype(target, copy=nulls)
        if nulls:
            out[mask] = np.nan
        return out, None
    if nulls and col.kind not in INTEGERS and col.kind != "bool":
        values = np.where(mask, 0, values)  # NaN has no int value; the mask keeps the nulls
    out = values.astype(target, copy=False)
    if not nulls:
        return out, None
    if required:
        return None, ("a null", int(np.flatnonzero(mask)[0]), None)
    return nullable(out, mask, target), None


def first_inexact(values: Any, mask: Any, source: str, target: str) -> int | None:
    """Return the first position whose value would change on the way to `target`, or None."""
    import numpy as np

    if source == target or target == "bool":
        return None
    if target in FLOATS and source in INTEGERS:
        cond = outside(values, source, -_EXACT[target], _EXACT[target])
    elif target in FLOATS:
        if target != "float32" or np.dtype(source).itemsize <= 4:
            return None
        with np.errstate(over="ignore"):
            cond = (values.astype(np.float32) != values) & ~np.isnan(values)
    elif source in INTEGERS:
        info = np.iinfo(target)
        cond = outside(values, source, int(info.min), int(info.max))
    else:
        info = np.iinfo(target)
        # float(max) + 1 is 2**bits exactly, the first integer past the range.
        with np.errstate(invalid="ignore", over="ignore"):
            cond = ~np.isfinite(values) | (np.floor(values) != values)
            cond |= (values < float(info.min)) | (values >= float(info.max) + 1)
    if cond is None:
        return None
    if mask is not None:
        cond &= ~mask
    hits = np.flatnonzero(cond)
    return int(hits[0]) if hits.size else None


def outside(values: Any, source: str, lo: int, hi: int) -> Any:
    """Return a mask of the values outside [lo, hi] (None when the type cannot leave it)."""
    import numpy as np

    # Compare only on the sides the source type can exceed, so every bound fits its type.
    info = np.iinfo(source)
    cond = None
    if info.min < lo:
        cond = values < lo
    if info.max > hi:
        cond = values > hi if cond is None else cond | (values > hi)
    return cond


def nullable(values: Any, mask: Any, dtype: str) -> Any:
    """Return a pandas nullable array (Int64, boolean, ...) of `values` with `mask` as nulls."""
    import pandas as pd

    if dtype == "bool":
        return pd.arrays.BooleanArray(values, mask)
    return pd.arrays.IntegerArray(values, mask)


def null_column(dtype: str, n: int) -> Any:
    """Return a column of `n` nulls of `dtype`, for an optional column the input lacks."""
    import numpy as np
    import pandas as pd

    if dtype in FLOATS:
        return np.full(n, np.nan, dtype=dtype)
    if dtype == "bool" or dtype in INTEGERS:
        return nullable(np.zeros(n, dtype=dtype), np.ones(n, dtype=bool), dtype)
    if dtype == "datetime":
        return np.full(n, np.datetime64("NaT", "ns"))
    if dtype == "category":
        return pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index([], dtype=object))
    return np.full(n, None, dtype=object)


def mismatch(col: Column, target: str, original: Any) -> tuple[str, int | None, Any]:
    """Return (what was found, first bad row, its value) for a column `target` cannot take."""
    import numpy as np
    import pandas as pd

    values = tables.to_numpy(original, "input")
    present = np.flatnonzero(~np.asarray(pd.isna(values), dtype=bool))
    if col.kind == "mixed":
        # Error path only: look for the first value of a type the target cannot take.
        accepts = fits(target)
        for i in present:
            if not accepts(values[i]):
                return type_name(values[i]), int(i), values[i]
    if present.size == 0:
        return col.kind, None, None
    return col.kind, int(present[0]), values[present[0]]


def fits(target: str) -> Any:
    """Return a predicate: can one Python value be held by `target` as it is?"""
    import datetime
    import numbers

    import numpy as np

    if target == "bool":
        return lambda v: isinstance(v, bool)
    if target in INTEGERS:
        return lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)
    if target in FLOATS:
        return lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)
    types = {"binary": (bytes,), "datetime": (datetime.date, np.datetime64)}.get(target, (str,))
    return lambda v: isinstance(v, types)


def type_name(value: Any) -> str:
    """Return a value's type as a person reads it in an error message."""
    names = {str: "string", bytes: "binary", bool: "bool", int: "int", float: "float"}
    return names.get(type(value), type(value).__name__)
