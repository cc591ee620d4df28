"""Splitting a table of predictions into monitoring windows: by time, or by a count of rows.

Time windows are aligned to multiples of their width since the UTC epoch (an hourly window
always starts on the hour), so two runs over overlapping data agree on the boundaries and a
window's result can be compared with yesterday's. Windows with no rows between the first and
the last are kept (a gap in traffic is a fact to report, not to hide); asking for a fixed range
with `start_ms`/`end_ms` also keeps the empty ones at either end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

MAX_WINDOWS = 100_000

_UNITS = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|min|m|h|d|w)\s*$")


@dataclass(frozen=True, eq=False)
class Window:
    """One window: its position, its time span [start_ms, end_ms) and its rows' positions."""

    index: int
    start_ms: int | None
    end_ms: int | None
    rows: np.ndarray  # positions in the table, in the table's order

    @property
    def size(self) -> int:
        """Return the number of rows in the window."""
        return int(self.rows.size)


def parse_window(window: str | int) -> int:
    """Return a window width in milliseconds from "30s", "15min", "1h", "1d", "1w" or an int."""
    if isinstance(window, bool):
        raise InvalidInput(f"window={window!r} must be a duration such as '1h' or milliseconds")
    if isinstance(window, int):
        width = window
    elif isinstance(window, str):
        match = _DURATION.match(window)
        if match is None:
            raise InvalidInput(
                f"window={window!r} is not a duration; use a number and a unit from"
                " ms, s, min (or m), h, d, w, e.g. '15min', '1h' or '1d'"
            )
        width = int(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidInput(f"window={window!r} must be a duration such as '1h' or milliseconds")
    if width <= 0:
        raise InvalidInput(f"window={window!r} must be a positive duration")
    return width


def split_windows(
    table: Any,
    *,
    window: str | int | None = None,
    count: int | None = None,
    time_column: str = "time_ms",
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[Window]:
    """Return the windows of `table` by time (`window=`) or by `count=` rows, oldest first.

    Rows outside [start_ms, end_ms) are left out. Count windows follow the time column when the
    table has one (ties keep the table's order), else the table's order; the last one may be
    shorter than `count`.
    """
    from perennia._util import tables

    if (window is None) == (count is None):
        raise InvalidInput("pass exactly one of window= (a duration such as '1h') or count= (rows)")
    _check_range(start_ms, end_ms)
    names = tables.column_names(table)
    n = tables.row_count(table)
    times = None
    if time_column in names:
        times = time_values(tables.column(table, time_column, "table"), time_column)
    elif window is not None or start_ms is not None or end_ms is not None:
        raise InvalidInput(
            f"table has no {time_column!r} column; time windows and ranges need epoch"
            " milliseconds there (pass time_column= naming it, or count= for row windows)"
        )
    if window is not None:
        return time_windows(times, parse_window(window), start_ms=start_ms, end_ms=end_ms)
    return count_windows(n, _check_count(count), times=times, start_ms=start_ms, end_ms=end_ms)


def time_windows(
    times: np.ndarray,
    width_ms: int,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[Window]:
    """Return epoch-aligned windows of `width_ms` over the times, empty ones included."""
    import numpy as np

    _check_range(start_ms, end_ms)
    inside = _in_range(times, start_ms, end_ms)
    kept = np.flatnonzero(inside)
    low = start_ms if start_ms is not None else (int(times[kept].min()) if kept.size else None)
    high = end_ms if end_ms is not None else (int(times[kept].max()) + 1 if kept.size else None)
    if low is None or high is None:
        return []
    # Floor division on Python ints floors towards minus infinity, so times before 1970 align too.
    first = (low // width_ms) * width_ms
    n_windows = -(-(high - first) // width_ms)
    if n_windows > MAX_WINDOWS:
        raise InvalidInput(
            f"{n_windows} windows of {width_ms} ms would cover the range; at most"
            f" {MAX_WINDOWS} are allowed: use a wider window or a shorter range"
        )
    ids = (times[kept] - first) // width_ms
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(n_windows + 1))
    return [
        Window(i, first + i * width_ms, first + (i + 1) * width_ms, kept[order[a:b]])
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]


def count_windows(
    n_rows: int,
    count: int,
    *,
    times: np.ndarray | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[Window]:
    """Return consecutive windows of `count` rows (in time order when times are given)."""
    import numpy as np

    _check_count(count)
    if times is None:
        order = np.arange(n_rows)
    else:
        kept = np.flatnonzero(_in_range(times, start_ms, end_ms))
        order = kept[np.argsort(times[kept], kind="stable")]
    windows = []
    for i, begin in enumerate(range(0, order.size, count)):
        rows = order[begin : begin + count]
        span = (None, None) if times is None else (int(times[rows[0]]), int(times[rows[-1]]) + 1)
        windows.append(Window(i, span[0], span[1], np.sort(rows)))
    return windows


def time_values(values: Any, name: str = "time_ms") -> np.ndarray:
    """Return a time column as int64 epoch milliseconds (datetimes are converted as UTC)."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype == object and array.size and hasattr(array[0], "tzinfo"):
        import pandas as pd

        # Timezone-aware datetimes arrive as objects; UTC is where epoch milliseconds live.
        try:
            array = pd.to_datetime(array, utc=True).tz_localize(None).to_numpy()
        except (TypeError, ValueError):
            raise InvalidInput(f"{name} mixes datetimes with other values") from None
    if array.dtype.kind == "M":
        if np.isnat(array).any():
            row = int(np.flatnonzero(np.isnat(array))[0])
            raise InvalidInput(f"{name} is missing at row {row}; every prediction needs a time")
        return array.astype("datetime64[ms]").astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.floor(array))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInput(
                f"{name} at row {row} is {array[row]!r}; times must be whole epoch milliseconds"
            )
        return array.astype(np.int64)
    raise InvalidInput(f"{name} must hold epoch milliseconds (integers) or datetimes")


def _in_range(times: np.ndarray, start_ms: int | None, end_ms: int | None) -> np.ndarray:
    import numpy as np

    inside = np.ones(times.size, dtype=bool)
    if start_ms is not None:
        inside &= times >= start_ms
    if end_ms is not None:
        inside &= times < end_ms
    return inside


def _check_count(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise InvalidInput(f"count={count!r} must be a positive number of rows per window")
    return count


def _check_range(start_ms: Any, end_ms: Any) -> None:
    for label, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(f"{label}={value!r} must be epoch milliseconds (an integer) or None")
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise InvalidInput(f"start_ms={start_ms} must be before end_ms={end_ms}")
