"""`profile(data)`: a reference profile computed once, streaming over Parquet row groups.

In memory (pandas, polars, Arrow), each column is read once. A Parquet file is read one row
group at a time, so memory stays at one row group: the grid bounds come from the row groups'
statistics (or one pass reading the numeric columns' min and max where statistics are
missing), then every row group's profile is built on those bounds and merged exactly.

Partitions elsewhere (Spark, Ray): compute `bounds` of each partition, combine them with
`union_bounds`, profile each partition with `profile(part, bounds=...)`, and merge the results
with `DatasetProfile.merge`: the merge is exact because every partition shares the grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from perennia.clock import now_ms
from perennia.errors import InvalidInput
from perennia.monitoring.data_drift.categorical_column import category_counts
from perennia.monitoring.data_drift.frames import Frame, numeric_values, open_frame
from perennia.monitoring.data_drift.kinds import kind_from_type
from perennia.monitoring.profiles.categorical import categorical_profile
from perennia.monitoring.profiles.dataset import ColumnProfile, DatasetProfile
from perennia.monitoring.profiles.numeric import DEFAULT_BINS, numeric_profile

Bounds = Mapping[str, tuple[float, float]]


def profile(
    data: Any,
    columns: Iterable[str] | None = None,
    *,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    bins: int = DEFAULT_BINS,
    bounds: Bounds | None = None,
) -> DatasetProfile:
    """Return the profile of `data` (pandas, polars, Arrow, or a Parquet path, streamed)."""
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1 << 20:
        raise InvalidInput(f"bins must be an integer in [2, 1048576], got {bins!r}")
    forced = _forced(categorical, numeric)
    if isinstance(data, (str, os.PathLike)):
        return _parquet(os.fspath(data), columns, forced, bins, bounds)
    frame = open_frame(data, "data")
    names = _chosen(frame, columns)
    kinds = {name: _kind(frame, name, forced) for name in names}
    limits = dict(bounds or bounds_of(frame, [n for n in names if kinds[n] == "numeric"]))
    result = {name: _column(frame, name, kinds[name], limits, bins) for name in names}
    return DatasetProfile(result, frame.rows, {"created_ms": now_ms(), "bins": bins})


def bounds_of(
    frame: Frame | Any, names: Iterable[str] | None = None
) -> dict[str, tuple[float, float]]:
    """Return (min, max) of the finite values of each numeric column (NaN-free; (0, 0) if none)."""
    import numpy as np

    frame = frame if isinstance(frame, Frame) else open_frame(frame, "data")
    result = {}
    for name in names if names is not None else frame.columns:
        values = numeric_values(frame.series(name))
        finite = values[np.isfinite(values)]
        result[name] = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return result


def union_bounds(*many: Bounds) -> dict[str, tuple[float, float]]:
    """Return per column the smallest bounds holding all of `many`."""
    result: dict[str, tuple[float, float]] = {}
    for bounds in many:
        for name, (lo, hi) in bounds.items():
            old = result.get(name)
            result[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return result


def _forced(categorical: Iterable[str], numeric: Iterable[str]) -> dict[str, str]:
    forced = {name: "categorical" for name in categorical}
    for name in numeric:
        if name in forced:
            raise InvalidInput(f"column {name!r} is listed as both categorical and numeric")
        forced[name] = "numeric"
    return forced


def _chosen(frame: Frame, columns: Iterable[str] | None) -> list[str]:
    if columns is None:
        return list(frame.columns)
    names = list(columns)
    for name in names:
        if name not in frame.columns:
            raise InvalidInput(
                f"column {name!r} is not in the data; it has: {', '.join(frame.columns[:20])}"
            )
    return names


def _kind(frame: Frame, name: str, forced: dict[str, str]) -> str:
    return kind_from_type(frame.kind_of(name), forced.get(name))


def _column(frame: Frame, name: str, kind: str, limits: Bounds, bins: int) -> ColumnProfile:
    series = frame.series(name)
    if kind == "numeric":
        values = numeric_values(series)
        lo, hi = limits.get(name) or bounds_of(frame, [name])[name]
        # The drift engine's rule: integers spanning two adjacent values are binary flags.
        if frame.kind_of(name) == "integer" and hi - lo <= 1.0:
            return categorical_profile(*category_counts(series), kind="binary")
        return numeric_profile(values, lo, hi, bins)
    return categorical_profile(*category_counts(series), kind=kind)


def _parquet(
    path: str,
    columns: Iterable[str] | None,
    forced: dict[str, str],
    bins: int,
    bounds: Bounds | None,
) -> DatasetProfile:
    import pyarrow as pa

    frame = open_frame(path, "data")
    handle = frame._source
    names = _chosen(frame, columns)
    kinds = {name: _kind(frame, name, forced) for name in names}
    numeric_names = [n for n in names if kinds[n] == "numeric"]
    limits = dict(bounds or _parquet_bounds(handle, numeric_names))
    merged: DatasetProfile | None = None
    for group in range(handle.num_row_groups):
        table = handle.read_row_group(group, columns=names)
        part = Frame(tuple(names), table.num_rows, table, "arrow")
        piece = {name: _column(part, name, kinds[name], limits, bins) for name in names}
        current = DatasetProfile(piece, table.num_rows)
        merged = current if merged is None else merged.merge(current)
    if merged is None:
        empty = pa.table(
            {name: pa.array([], type=handle.schema_arrow.field(name).type) for name in names}
        )
        return profile(empty, names, bins=bins)
    return DatasetProfile(merged.columns, merged.rows, {"created_ms": now_ms(), "bins": bins})


def _parquet_bounds(handle: Any, names: list[str]) -> dict[str, tuple[float, float]]:
    """Return each numeric column's bounds from row-group statistics, reading it where absent."""
    import math

    result: dict[str, tuple[float, float]] = {}
    positions = {
        handle.metadata.schema.column(i).path: i for i in range(handle.metadata.num_columns)
    }
    for name in names:
        lows, highs, known = [], [], name in positions
        for group in range(handle.num_row_groups) if known else ():
            stats = handle.metadata.row_group(group).column(positions[name]).statistics
            if stats is None or not stats.has_min_max:
                known = False
                break
            lows.append(float(stats.min))
            highs.append(float(stats.max))
        finite = known and all(math.isfinite(v) for v in lows + highs)
        if finite and lows:
            result[name] = (min(lows), max(highs))
        else:
            table = handle.read(columns=[name])
            result.update(bounds_of(Frame((name,), table.num_rows, table, "arrow"), [name]))
    return result
