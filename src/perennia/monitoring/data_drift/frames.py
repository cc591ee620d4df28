"""The tables `drift` reads: pandas, polars, Arrow or Parquet paths, one column at a time.

A Parquet file is never read whole: each column is read when the engine reaches it and dropped
after, which keeps peak memory at about one column of each side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia._util.tables import library
from perennia.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Frame:
    """One side of a comparison: its column names, row count and a reader per column."""

    columns: tuple[str, ...]
    rows: int
    _source: Any
    _kind: str  # "pandas" | "arrow" | "parquet"

    def series(self, name: str) -> pd.Series:
        """Return column `name` as a pandas Series."""
        if self._kind == "pandas":
            return self._source[name]
        if self._kind == "arrow":
            return self._source.column(name).to_pandas()
        return self._source.read(columns=[name]).column(0).to_pandas()

    def kind_of(self, name: str) -> str:
        """Return "numeric", "integer", "boolean" or "other" from the column's type alone."""
        if self._kind == "pandas":
            return _pandas_kind(self._source[name].dtype)
        import pyarrow as pa

        schema = self._source.schema if self._kind == "arrow" else self._source.schema_arrow
        kind = schema.field(name).type
        if pa.types.is_boolean(kind):
            return "boolean"
        if pa.types.is_integer(kind):
            return "integer"
        if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            return "numeric"
        return "other"


def open_frame(data: Any, label: str) -> Frame:
    """Return a Frame over a pandas/polars DataFrame, an Arrow table or a Parquet path."""
    if isinstance(data, (str, os.PathLike)):
        return _parquet(Path(data), label)
    found = library(data)
    if found == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            if len(set(map(str, data.columns))) != data.shape[1]:
                raise InvalidInput(f"{label} has duplicate column names; give each column one name")
            frame = (
                data.rename(columns=str)
                if any(not isinstance(c, str) for c in data.columns)
                else data
            )
            return Frame(tuple(frame.columns), len(frame), frame, "pandas")
    if found == "polars":
        import polars as pl

        if isinstance(data, pl.DataFrame):
            return open_frame(data.to_arrow(), label)
    if found == "pyarrow":
        import pyarrow as pa

        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            return Frame(tuple(data.schema.names), data.num_rows, data, "arrow")
    raise InvalidInput(
        f"{label} must be a pandas or polars DataFrame, an Arrow table or a Parquet path, "
        f"got {type(data).__name__}"
    )


def numeric_values(series: pd.Series) -> np.ndarray:
    """Return the column as float64 with NaN for nulls (pandas' nullable types included)."""
    import numpy as np

    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _parquet(path: Path, label: str) -> Frame:
    import pyarrow.parquet as pq

    if path.is_dir():
        raise InvalidInput(
            f"{label} {str(path)!r} is a folder; give one Parquet file or load it first"
        )
    if not path.is_file():
        raise NotFound(f"{label}: no Parquet file at {str(path)!r}")
    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InvalidInput(f"{label} {str(path)!r} is not a readable Parquet file: {exc}") from None
    return Frame(tuple(handle.schema_arrow.names), handle.metadata.num_rows, handle, "parquet")


def _pandas_kind(dtype: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    return "other"
