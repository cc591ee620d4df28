"""Metric history at 10 million points in one key: a 2,000-point chart vs reading it all.

The history is built through the store's batch path (`store.metrics.log`, 100,000 points a
batch, summaries maintained on write as in production) and the build time is printed. Then:
the downsampled chart read (`history_downsampled(max_points=2000)`, median of several), a
zoomed chart over a tenth of the steps, and the raw full read in keyset pages for comparison.
SQLite by default; set BENCH_HISTORY_PG to a PostgreSQL URI to run there too.
"""

from __future__ import annotations

import os
import statistics
import time

from common import Result, emit, fresh_dir

POINTS = int(os.environ.get("BENCH_HISTORY_POINTS", "10000000"))
BATCH = 100_000
CHART_POINTS = 2_000
READS = int(os.environ.get("BENCH_HISTORY_READS", "7"))
POSTGRES = os.environ.get("BENCH_HISTORY_PG", "")


def build(uri: str) -> tuple[object, str, float]:
    """Return (store, run id, build seconds) after logging POINTS points of one key."""
    import numpy as np

    from perennia.entities import MetricBatch
    from perennia.store import open_store

    store = open_store(uri)
    run_id = store.runs.create(store.experiments.create("history")).info.run_id
    rng = np.random.default_rng(0)
    keys = ["loss"] * BATCH
    start = time.perf_counter()
    for offset in range(0, POINTS, BATCH):
        n = min(BATCH, POINTS - offset)
        steps = np.arange(offset, offset + n)
        values = 1.0 / (1.0 + steps / 1e5) + rng.normal(0.0, 0.01, n)
        if offset == POINTS // 2:
            values[7] = 42.0  # one spike the chart must show
        stamps = (1_700_000_000_000 + steps).tolist()
        store.metrics.log(run_id, MetricBatch(keys[:n], values.tolist(), steps.tolist(), stamps))
    return store, run_id, time.perf_counter() - start


def chart_seconds(store, run_id: str, start=None, end=None) -> tuple[float, int]:
    """Return (median seconds, points) of the CHART_POINTS downsampled read."""
    samples, got = [], None
    for _ in range(READS):
        began = time.perf_counter()
        got = store.metrics.history_downsampled(run_id, "loss", CHART_POINTS, start, end)
        samples.append(time.perf_counter() - began)
    if start is None:
        assert 42.0 in got.values, "the spike is missing from the chart"
    return statistics.median(samples), len(got)


def raw_seconds(store, run_id: str) -> tuple[float, int]:
    """Return (seconds, points) of reading every point, in keyset pages."""
    began = time.perf_counter()
    count = sum(len(page) for page in store.metrics.history_pages(run_id, "loss"))
    return time.perf_counter() - began, count


def measure(name: str, uri: str) -> list[Result]:
    """Return the chart, zoom and raw read results on one backend."""
    store, run_id, built = build(uri)
    print(f"{name}: built {POINTS:,} points in {built:,.1f} s ({POINTS / built:,.0f} pts/s)")
    chart, size = chart_seconds(store, run_id)
    zoom, zoom_size = chart_seconds(store, run_id, POINTS // 2, POINTS // 2 + POINTS // 10)
    raw, count = raw_seconds(store, run_id)
    assert count == POINTS, f"raw read returned {count:,} points"
    print(f"{name}: chart {size:,} pts, zoom {zoom_size:,} pts, raw {count:,} pts")
    store.close()
    where = f"{POINTS:,} points in one key; built in {built:,.1f} s"
    return [
        Result(
            f"history chart ({name})",
            chart,
            raw,
            "s",
            "raw full read",
            "< 200 ms",
            chart < 0.2,
            where,
        ),
        Result(
            f"history zoom 10% ({name})", zoom, raw, "s", "raw full read", "< 200 ms", zoom < 0.2
        ),
    ]


def main() -> list[Result]:
    """Return the history results on SQLite (and PostgreSQL when BENCH_HISTORY_PG is set)."""
    results = measure("sqlite", f"sqlite:///{fresh_dir('history') / 'perennia.db'}")
    if POSTGRES:
        results += measure("postgresql", POSTGRES)
    return results


if __name__ == "__main__":
    emit(main())
