"""Point-in-time join: 1M label events x 10M feature rows (~1M entities), both engines vs pandas.

The anchor is what a user writes today without Perennia: `pandas.merge_asof` by entity, both
frames sorted by time first (stable, so ties resolve like ours: the last row in input order),
and the answer put back into the events' order. Perennia's `point_in_time_join` is timed whole
(checks, time conversion, the engine, assembling the frame), with DuckDB's ASOF JOIN and with
polars' join_asof. The script checks that all three give the same frame before timing.
"""

from __future__ import annotations

import os

import numpy as np

from common import REPEATS, Result, emit, median_seconds

EVENTS = int(os.environ.get("BENCH_JOIN_EVENTS", "1000000"))
FEATURES = int(os.environ.get("BENCH_JOIN_FEATURES", "10000000"))
ENTITIES = int(os.environ.get("BENCH_JOIN_ENTITIES", "1000000"))
YEAR_S = 365 * 24 * 3600


def make_data(seed: int = 0):
    """Return (events, features) pandas frames: int64 entity keys, second-resolution timestamps."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    features = pd.DataFrame(
        {
            "driver_id": rng.integers(0, ENTITIES, FEATURES),
            "event_timestamp": start + rng.integers(0, YEAR_S, FEATURES).astype("timedelta64[s]"),
            "conv_rate": rng.random(FEATURES),
            "acc_rate": rng.random(FEATURES).astype(np.float32),
            "trips": rng.integers(0, 1000, FEATURES),
        }
    )
    events = pd.DataFrame(
        {
            "driver_id": rng.integers(0, ENTITIES, EVENTS),
            "event_timestamp": start + rng.integers(0, YEAR_S, EVENTS).astype("timedelta64[s]"),
            "label": rng.integers(0, 2, EVENTS),
        }
    )
    return events, features


def perennia_join(events, features, engine: str):
    """Return Perennia's point-in-time join of the two frames on `engine`."""
    from perennia.data.prepare.point_in_time import point_in_time_join

    return point_in_time_join(events, features, entity="driver_id", engine=engine)


def pandas_join(events, features):
    """Return the same join with pandas.merge_asof, in the events' order (the anchor)."""
    import pandas as pd

    left = events.reset_index(drop=True)
    left = left.assign(_row=np.arange(len(left))).sort_values("event_timestamp", kind="stable")
    right = features.sort_values("event_timestamp", kind="stable")
    joined = pd.merge_asof(left, right, on="event_timestamp", by="driver_id", direction="backward")
    return joined.sort_values("_row").drop(columns="_row").reset_index(drop=True)


def check_agreement(events, features) -> None:
    """Raise AssertionError unless both engines and pandas give the same frame."""
    import pandas as pd

    anchor = pandas_join(events, features)
    for engine in ("duckdb", "polars"):
        pd.testing.assert_frame_equal(perennia_join(events, features, engine), anchor)


def main() -> list[Result]:
    """Return the join timings: each engine against pandas.merge_asof on the same data."""
    events, features = make_data()
    check_agreement(events, features)
    anchor = median_seconds(lambda: pandas_join(events, features), REPEATS)
    size = f"{EVENTS:,} events x {FEATURES:,} feature rows, {ENTITIES:,} entities"
    results = []
    for engine, target in (("duckdb", ">= 1x"), ("polars", "(info)")):
        ours = median_seconds(
            lambda engine=engine: perennia_join(events, features, engine), REPEATS
        )
        passed = anchor / ours >= 1 if target != "(info)" else True
        results.append(
            Result(
                f"point-in-time join ({engine})",
                ours,
                anchor,
                "s",
                "pandas merge_asof",
                target,
                passed,
                f"{size}; the three frames agree; median of {REPEATS}",
            )
        )
    return results


if __name__ == "__main__":
    emit(main())
