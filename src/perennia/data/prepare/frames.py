"""The frame types preparation accepts (pandas, polars, Arrow) and the few operations it needs on each.

Preparation works on pandas internally; these helpers check the frame type at the boundary,
convert, read names and row counts through `perennia._util.tables` (the one reader of user
data), and take rows from the caller's own frame type so a split of a polars frame stays polars.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from perennia._util import tables
from perennia.errors import InvalidInput


def frame_kind(frame: Any, what: str = "frame") -> str:
    """Return "pandas", "polars" or "arrow" for a supported frame; InvalidInput for anything else."""
    module = type(frame).__module__.split(".")[0]
    name = type(frame).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    raise InvalidInput(
        f"{what} is a {module}.{name}; pass a pandas DataFrame, a polars DataFrame or a pyarrow Table"
    )


def to_pandas(frame: Any, what: str = "frame") -> Any:
    """Return `frame` as a pandas DataFrame (the same object when it already is one)."""
    frame_kind(frame, what)
    return tables.to_pandas(frame, what)


def column_names(frame: Any) -> list[str]:
    """Return the column names of any supported frame."""
    frame_kind(frame)
    return tables.column_names(frame)


def require_columns(frame: Any, names: Iterable[str | None], what: str) -> None:
    """Raise InvalidInput naming the first of `names` (Nones skipped) that `frame` lacks."""
    present = set(column_names(frame))
    for name in names:
        if name is None:
            continue
        if not isinstance(name, str):
            raise InvalidInput(f"column name {name!r} in {what} must be a string")
        if name not in present:
            shown = ", ".join(sorted(present)[:20]) or "(none)"
            raise InvalidInput(f"{what} has no column {name!r}; its columns are: {shown}")


def take_rows(frame: Any, positions: Sequence[int] | Any) -> Any:
    """Return the rows of `frame` at integer `positions`, in that order, as the same frame type."""
    import numpy as np

    positions = np.asarray(positions, dtype=np.int64)
    kind = frame_kind(frame)
    if kind == "pandas":
        return frame.iloc[positions]
    if kind == "polars":
        import polars as pl

        return frame[pl.Series(positions)]
    return frame.take(positions)


def column_series(frame: Any, name: str) -> Any:
    """Return one column of any supported frame as a pandas Series."""
    kind = frame_kind(frame)
    if kind == "pandas":
        return frame[name]
    if kind == "polars":
        return frame.get_column(name).to_pandas()
    return frame.column(name).to_pandas()


def row_count(frame: Any) -> int:
    """Return the number of rows of any supported frame."""
    frame_kind(frame)
    return tables.row_count(frame)


def json_value(value: Any) -> Any:
    """Return `value` as a JSON-able Python value (numpy scalars unwrapped, others as text)."""
    if hasattr(value, "item") and not isinstance(value, str):
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
