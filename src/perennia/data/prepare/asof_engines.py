"""The two as-of join engines behind `point_in_time_join`: DuckDB's ASOF LEFT JOIN and polars' join_asof.

Both receive the same two Arrow tables, reduced to what the join needs: entity keys `k0..kn`
(int64 or large strings) and an int64 `p` that orders feature rows by (time, input position)
and is unique, so neither engine has a tie to break. Each returns, for every event row, the
position of the matching feature row or -1. Feature values never pass through an engine, so the
two cannot disagree on types, only on the match, and the tests hold both to one oracle.

`p` packs the pair into one int64: (time step) * rows + position, where time steps are the
feature times' offsets from the earliest, divided by their greatest common divisor (times at
whole seconds stored in microseconds step by 10**6). An event's `p` is its last time step at or
before the event, times rows, plus rows - 1, so `event p >= feature p` is exactly "feature time
<= event time", the later input row winning a tie. A packed int64 sorts about twice as fast as
the (time, position) pair; when the span of steps is too wide to pack, the pair is used instead
(`t` and `pos` columns: a HUGEINT in DuckDB, a sort by both in polars).
"""

from __future__ import annotations

import threading
from typing import Any

MAX_FEATURE_ROWS = 2**32 - 1
_PACK_LIMIT = 2**62  # headroom under int64
_database: Any = None
_database_lock = threading.Lock()


def ordering_columns(
    event_t: Any, event_null: Any, feature_t: Any, feature_null: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ordering columns (Arrow arrays) for events and features: `p`, or `t` and `pos`."""
    import numpy as np
    import pyarrow as pa

    rows = max(len(feature_t), 1)
    valid = feature_t[~feature_null]
    positions = np.arange(len(feature_t), dtype=np.int64)
    low, high = (int(valid.min()), int(valid.max())) if valid.size else (0, 0)
    # Python ints here: a span of 2**62 or more would overflow the int64 differences below.
    if valid.size and high - low < _PACK_LIMIT:
        step = (
            1 if (high - low + 1) * rows < _PACK_LIMIT else max(int(np.gcd.reduce(valid - low)), 1)
        )
        if ((high - low) // step + 1) * rows < _PACK_LIMIT:
            feature_p = (feature_t - low) // step * rows + positions
            floor = max(low - step, -(2**63) + 1)  # every earlier event lands on step -1
            event_steps = (np.clip(event_t, floor, high) - low) // step
            return (
                {"p": pa.array(event_steps * rows + (rows - 1), mask=event_null)},
                {"p": pa.array(feature_p, mask=feature_null)},
            )
    return (
        {"t": pa.array(event_t, mask=event_null)},
        {"t": pa.array(feature_t, mask=feature_null), "pos": pa.array(positions)},
    )


def _cursor() -> Any:
    """Return a new DuckDB connection to one shared in-memory database (cheaper than connect())."""
    global _database
    import duckdb

    with _database_lock:
        if _database is None:
            _database = duckdb.connect(":memory:")
        # A cursor is its own connection: registrations are private to it, and it is thread-safe.
        return _database.cursor()


def duckdb_match(left: Any, right: Any, keys: int) -> Any:
    """Return an int64 array: for each event row, the matched feature position or -1 (DuckDB)."""
    import numpy as np

    same_entity = " AND ".join(f"e.k{i} = f.k{i}" for i in range(keys))
    if "p" in right.column_names:
        order, found = "e.p >= f.p", f"f.p % {max(right.num_rows, 1)}"
    else:
        scale = 2**32
        order = f"(e.t::HUGEINT * {scale} + {scale - 1}) >= (f.t::HUGEINT * {scale} + f.pos)"
        found = "f.pos"
    column = "p" if "p" in right.column_names else "t"
    query = (
        f"SELECT e.row, {found} AS pos FROM pit_events e ASOF LEFT JOIN "
        f"(SELECT * FROM pit_features WHERE {column} IS NOT NULL) f ON {same_entity} AND {order}"
    )
    connection = _cursor()
    try:
        connection.register("pit_events", left)
        connection.register("pit_features", right)
        result = connection.sql(query).to_arrow_table()
    finally:
        connection.close()
    match = np.full(left.num_rows, -1, dtype=np.int64)
    match[result.column("row").to_numpy()] = result.column("pos").fill_null(-1).to_numpy()
    return match


def polars_match(left: Any, right: Any, keys: int) -> Any:
    """Return an int64 array: for each event row, the matched feature position or -1 (polars)."""
    import numpy as np
    import polars as pl

    by = [f"k{i}" for i in range(keys)]
    packed = "p" in right.column_names
    on = "p" if packed else "t"
    events = pl.from_arrow(left).drop_nulls([on, *by]).sort(on)
    features = pl.from_arrow(right).drop_nulls([on, *by])
    if packed:
        features = features.with_columns(pos=pl.col("p") % max(right.num_rows, 1)).sort("p")
    else:
        # Backward search takes the last row <= the event, so sorting ties by position picks the
        # last one in input order.
        features = features.sort(["t", "pos"])
    joined = events.join_asof(features, on=on, by=by, strategy="backward", check_sortedness=False)
    match = np.full(left.num_rows, -1, dtype=np.int64)
    match[joined.get_column("row").to_numpy()] = joined.get_column("pos").fill_null(-1).to_numpy()
    return match


ENGINES = {"duckdb": duckdb_match, "polars": polars_match}
