"""Downsampled metric histories: a chart's worth of points whatever the history's length.

Oracles: the full history read back (`history`) and brute force over it. A downsampled read
returns at most `max_points` real points of the range, ordered by step, always holding the
range's true min and max (NaN aside); a range that fits comes back whole. Summaries are kept on
write, so points logged out of order and steps logged again must still show up; on SQL
backends the maintained summary rows equal a rebuild from the raw points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import text

from perennia.entities import MetricBatch
from perennia.errors import InvalidInput, NotFound
from perennia.testing.store_contract.helpers import sql_engine

POINTS = 20_000


def _run(store) -> str:
    experiment_id = store.experiments.create(f"downsample-{id(store)}")
    return store.runs.create(experiment_id).info.run_id


def _log_shuffled(store, run_id: str, key: str, steps, values, batch: int = 2_500) -> None:
    """Log the points in shuffled batches, so summaries are folded out of step order."""
    order = np.random.default_rng(7).permutation(len(steps))
    for offset in range(0, len(order), batch):
        chunk = order[offset : offset + batch]
        store.metrics.log(
            run_id,
            MetricBatch(
                [key] * len(chunk),
                [float(values[i]) for i in chunk],
                [int(steps[i]) for i in chunk],
                [1_000 + int(i) for i in chunk],
            ),
        )


def _long_history(store) -> str:
    rng = np.random.default_rng(17)
    values = np.cumsum(rng.normal(size=POINTS))
    values[[4_321, 17_000]] = [250.0, -250.0]  # spikes far outside the walk
    values[[10, 11_111]] = math.nan
    run_id = _run(store)
    _log_shuffled(store, run_id, "loss", np.arange(POINTS) * 3, values)
    return run_id


def _check(store, run_id: str, key: str, max_points: int, start=None, end=None, full=None):
    """Downsample and compare with brute force over `full` (the history, read if not given)."""
    got = store.metrics.history_downsampled(run_id, key, max_points, start, end)
    full = store.metrics.history(run_id, key) if full is None else full
    raw = [m for m in full if (start is None or m.step >= start) and (end is None or m.step <= end)]
    assert len(got) <= max_points
    assert got.steps == sorted(got.steps)
    assert set(got.keys) <= {key}
    real = {(m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value) for m in raw}
    picked = zip(got.steps, got.timestamps, got.values, strict=True)
    assert {(s, t, "nan" if math.isnan(v) else v) for s, t, v in picked} <= real
    finite = [m.value for m in raw if not math.isnan(m.value)]
    if finite:
        assert min(finite) in got.values and max(finite) in got.values
    if len(raw) <= max_points:
        assert got.to_metrics() == raw or len(got) == len(raw)
    return got


def test_a_long_history_downsamples_to_its_extremes_in_order(store):
    run_id = _long_history(store)
    full = store.metrics.history(run_id, "loss")
    got = _check(store, run_id, "loss", 200, full=full)
    assert 250.0 in got.values and -250.0 in got.values
    assert len(got) >= 100  # a chart's worth, not a handful
    for start, end in [(0, 30_000), (12_000, None), (None, 5), (13, 14), (30_001, 59_000)]:
        _check(store, run_id, "loss", 200, start, end, full=full)


def test_a_short_range_comes_back_whole_with_nan(store):
    run_id = _run(store)
    values = [1.0, math.nan, -math.inf, 3.0, math.inf]
    store.metrics.log(run_id, MetricBatch(["m"] * 5, values, [0, 1, 2, 2, 9], [5, 4, 3, 2, 1]))
    got = store.metrics.history_downsampled(run_id, "m", 10)
    assert [m.step for m in got.to_metrics()] == [
        m.step for m in store.metrics.history(run_id, "m")
    ]
    assert got.values[2:] == [3.0, -math.inf, math.inf] and math.isnan(got.values[1])
    assert len(store.metrics.history_downsampled(run_id, "absent", 10)) == 0


def test_logging_a_step_again_keeps_summaries_right(store):
    run_id = _run(store)
    steps = np.arange(6_000)
    _log_shuffled(store, run_id, "acc", steps, np.sin(steps / 100.0), batch=1_000)
    store.metrics.log(run_id, MetricBatch(["acc", "acc"], [7.5, -7.5], [1_234, 5_999], [9, 9]))
    full = store.metrics.history(run_id, "acc")
    got = _check(store, run_id, "acc", 100, full=full)
    assert 7.5 in got.values and -7.5 in got.values
    _check(store, run_id, "acc", 100, 1_000, 2_000, full=full)


def test_lttb_keeps_the_ends_and_the_size(store):
    run_id = _run(store)
    steps = np.arange(3_000)
    _log_shuffled(store, run_id, "y", steps, np.cos(steps / 50.0), batch=3_000)
    got = store.metrics.history_downsampled(run_id, "y", 100, method="lttb")
    assert len(got) == 100 and got.steps[0] == 0 and got.steps[-1] == 2_999
    assert got.steps == sorted(set(got.steps))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_points": 3}, "max_points"),
        ({"max_points": 10**9}, "max_points"),
        ({"start": 5, "end": 4}, "start"),
        ({"method": "average"}, "method"),
    ],
)
def test_bad_downsampling_arguments_are_refused(store, kwargs, field):
    run_id = _run(store)
    with pytest.raises(InvalidInput, match=field):
        store.metrics.history_downsampled(run_id, "m", **kwargs)


def test_a_missing_run_is_not_found(store):
    with pytest.raises(NotFound):
        store.metrics.history_downsampled("0" * 32, "m")


def test_maintained_summaries_equal_a_rebuild(store):
    engine = sql_engine(store)
    run_id = _run(store)
    steps = np.arange(0, 9_000, 2)
    values = np.where(steps % 7 == 0, math.nan, np.tan(steps / 300.0))
    _log_shuffled(store, run_id, "z", steps, values, batch=700)
    store.metrics.log(run_id, MetricBatch(["z"] * 2, [1e6, -1e6], [4, 4], [1, 1]))
    from perennia.store.sql.metric_summaries import summary_rows

    query = text(
        "SELECT run_uuid, key, level, bucket, count, min_value, min_step, min_timestamp,"
        " max_value, max_step, max_timestamp FROM metric_summaries WHERE run_uuid = :r"
    )
    points = text("SELECT run_uuid, key, value, step, timestamp FROM metrics WHERE run_uuid = :r")
    with engine.connect() as conn:
        kept = sorted(tuple(row) for row in conn.execute(query, {"r": run_id}))
        rebuilt = sorted(
            summary_rows(run_id, [tuple(r) for r in conn.execute(points, {"r": run_id})])
        )
    assert kept == rebuilt
