"""The data a contract is checked against, read column by column and at most once per column.

Numbers, booleans and datetimes are read as numpy arrays through `perennia._util.tables` (one
null rule for every library). Text is read as an Arrow array straight from the source (pandas'
Arrow-backed strings, polars and Arrow hand it over without building 10M Python strings), so
set, regex, length and uniqueness checks on text run in Arrow's kernels. Nothing copies the
frame; each column is converted the first time a check asks for it and then cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perennia._util import tables
from perennia.errors import InvalidInput

NUMERIC = ("integer", "float")
TEXTUAL = ("string", "category")
SAMPLE = 10_000  # rows looked at to guess whether a text column has few distinct values
FEW = 1_000


class Columns:
    """Lazy, cached numpy/Arrow views of the columns of one table."""

    def __init__(self, data: Any, name: str = "data") -> None:
        if not (tables.is_table(data) or isinstance(data, Mapping)):
            hint = "; call .collect() first" if type(data).__name__ == "LazyFrame" else ""
            raise InvalidInput(f"{name} must be {tables.TABLES}, got {type(data).__name__}{hint}")
        self.data = data
        self.name = name
        self.names = tables.column_names(data)
        self.rows = tables.row_count(data) if self.names else _rows_without_columns(data)
        self._values: dict[str, Any] = {}
        self._nulls: dict[str, Any] = {}
        self._arrow: dict[str, Any] = {}
        self._types: dict[str, str] = {}
        self._encoded: dict[str, tuple[Any, Any]] = {}

    def has(self, column: str) -> bool:
        """Return whether the table has `column`."""
        return column in self.names

    def values(self, column: str) -> Any:
        """Return the column as a numpy array (nulls as NaN, NaT or None)."""
        if column not in self._values:
            try:
                self._values[column] = tables.column(self.data, column, self.name)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(str(exc)) from None
        return self._values[column]

    def nulls(self, column: str) -> Any:
        """Return a boolean mask of the column's nulls (None, NaN, NaT)."""
        if column not in self._nulls:
            if self.logical_type(column) in TEXTUAL:
                self._nulls[column] = _arrow_nulls(self.arrow(column))
            else:
                self._nulls[column] = null_mask(self.values(column))
        return self._nulls[column]

    def arrow(self, column: str) -> Any:
        """Return the column as a pyarrow Array or ChunkedArray."""
        if column not in self._arrow:
            self._arrow[column] = _to_arrow(self._source(column), self)
        return self._arrow[column]

    def encoded(self, column: str) -> tuple[Any, Any]:
        """Return a text column as (int64 code per row, -1 for null; Arrow array of distinct values)."""
        if column not in self._encoded:
            import numpy as np
            import pyarrow as pa
            import pyarrow.compute as pc

            array = self.arrow(column)
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            encoded = pc.dictionary_encode(array)
            codes = pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy()
            self._encoded[column] = (np.asarray(codes, dtype=np.int64), encoded.dictionary)
        return self._encoded[column]

    def few_values(self, column: str) -> bool:
        """Return whether a text column looks low-cardinality (judged on its first rows)."""
        import pyarrow.compute as pc

        if column in self._encoded:
            return len(self._encoded[column][1]) <= max(FEW, self.rows // 10)
        head = self.arrow(column).slice(0, SAMPLE)
        return pc.count_distinct(head).as_py() <= FEW // 10 or self.rows <= SAMPLE

    def text_mask(self, column: str, test: Any) -> Any:
        """Return `test(arrow array) -> bool numpy` per row, run on the distinct values when they are few."""
        import numpy as np

        if not self.few_values(column):
            return test(self.arrow(column))
        codes, dictionary = self.encoded(column)
        # Nulls (code -1) read the appended False.
        return np.append(test(dictionary), False)[codes]

    def logical_type(self, column: str) -> str:
        """Return integer, float, boolean, string, datetime, category or object."""
        if column not in self._types:
            self._types[column] = _logical_type(self._source(column))
        return self._types[column]

    def _source(self, column: str) -> Any:
        data = self.data
        if isinstance(data, Mapping):
            return data[column]
        if tables.library(data) == "pandas":
            labels = {str(label): label for label in data.columns}
            return data[labels.get(column, column)]
        if tables.library(data) == "pyarrow":
            return data.column(column)
        return data[column]


def _rows_without_columns(data: Any) -> int:
    try:
        return tables.row_count(data)
    except (TypeError, StopIteration):
        return 0


def null_mask(values: Any) -> Any:
    """Return the null mask of a numpy array: NaN for floats, NaT for datetimes, None/NaN in objects."""
    import numpy as np

    kind = values.dtype.kind
    if kind in "fc":
        return np.isnan(values)
    if kind in "mM":
        return np.isnat(values)
    if kind == "O":
        import pandas as pd

        return np.asarray(pd.isna(values), dtype=bool)
    return np.zeros(values.shape[0], dtype=bool)


def _arrow_nulls(array: Any) -> Any:
    import numpy as np
    import pyarrow.compute as pc

    return np.asarray(pc.is_null(array, nan_is_null=True).to_numpy(zero_copy_only=False), bool)


def _to_arrow(source: Any, columns: Columns) -> Any:
    import pyarrow as pa

    array = _arrow_of(source)
    if pa.types.is_dictionary(array.type):
        # Categories are checked by their values, as pandas and polars show them.
        array = array.cast(array.type.value_type)
    return array


def _arrow_of(source: Any) -> Any:
    import pyarrow as pa

    found = tables.library(source)
    if found == "pyarrow":
        return source
    if found == "polars":
        return source.to_arrow()
    if found == "pandas":
        import pandas as pd

        if isinstance(source.dtype, pd.CategoricalDtype):
            return pa.array(source.astype(object), from_pandas=True)
        try:
            return pa.array(source, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array(source.astype(str), from_pandas=True)
    try:
        return pa.array(tables.to_1d(source), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in tables.to_1d(source)])


def _logical_type(source: Any) -> str:
    found = tables.library(source)
    if found == "pandas":
        return _pandas_type(source)
    if found == "polars":
        return _polars_type(source.dtype)
    if found == "pyarrow":
        return _arrow_type(source.type)
    return _numpy_type(tables.to_1d(source))


def _pandas_type(series: Any) -> str:
    import pandas as pd
    from pandas.api import types as t

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    for test, name in (
        (t.is_bool_dtype, "boolean"),
        (t.is_integer_dtype, "integer"),
        (t.is_float_dtype, "float"),
        (t.is_datetime64_any_dtype, "datetime"),
    ):
        if test(dtype):
            return name
    if t.is_string_dtype(dtype) and not t.is_object_dtype(dtype):
        return "string"
    return _inferred(t.infer_dtype(series, skipna=True))


def _polars_type(dtype: Any) -> str:
    import polars as pl

    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype.is_temporal():
        return "datetime"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return "category"
    if dtype == pl.String:
        return "string"
    return "object"


def _arrow_type(dtype: Any) -> str:
    import pyarrow as pa

    tests = (
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "float"),
        (lambda d: pa.types.is_timestamp(d) or pa.types.is_date(d), "datetime"),
        (pa.types.is_dictionary, "category"),
        (lambda d: pa.types.is_string(d) or pa.types.is_large_string(d), "string"),
    )
    for test, name in tests:
        if test(dtype):
            return name
    return "string" if str(dtype) == "string_view" else "object"


def _numpy_type(values: Any) -> str:
    kind = values.dtype.kind
    names = {"b": "boolean", "i": "integer", "u": "integer", "f": "float", "M": "datetime"}
    if kind in names:
        return names[kind]
    if kind in "US":
        return "string"
    from pandas.api import types as t

    return _inferred(t.infer_dtype(values, skipna=True))


def _inferred(name: str) -> str:
    """Return the logical type of pandas' `infer_dtype` answer for an object column."""
    return {
        "string": "string",
        "integer": "integer",
        "floating": "float",
        "mixed-integer-float": "float",
        "boolean": "boolean",
        "datetime64": "datetime",
        "datetime": "datetime",
        "date": "datetime",
        "empty": "object",
    }.get(name, "object")


def value_kind(value: Any) -> str:
    """Return the logical type of one Python or numpy value (for columns mixing types)."""
    import datetime

    import numpy as np

    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime.date | np.datetime64):
        return "datetime"
    return "object"
