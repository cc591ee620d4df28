"""Windows by time (epoch-aligned, gaps kept) and by count, and their refusal of bad arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import parse_window, split_windows

HOUR = 3_600_000
DAY = 24 * HOUR
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _table(times: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"time_ms": np.asarray(times, dtype=np.int64), "x": range(len(times))})


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("30s", 30_000),
        ("15min", 900_000),
        ("15m", 900_000),
        ("1h", HOUR),
        (" 2 h ", 2 * HOUR),
        ("1d", DAY),
        ("1w", 7 * DAY),
        (60_000, 60_000),
    ],
)
def test_durations_parse_to_milliseconds(text: str | int, ms: int) -> None:
    assert parse_window(text) == ms


@pytest.mark.parametrize("bad", ["1 hour", "h", "1.5h", "-1h", "0h", 0, -5, True, 1.5, None])
def test_bad_durations_are_refused_naming_the_units(bad: object) -> None:
    with pytest.raises(InvalidInput, match="window="):
        parse_window(bad)  # type: ignore[arg-type]


def test_time_windows_start_on_epoch_multiples_of_their_width() -> None:
    start = 5 * DAY + 7 * HOUR + 123  # 07:00:00.123 on day 5
    windows = split_windows(_table([start, start + 30 * 60_000]), window="1h")
    assert [(w.start_ms, w.end_ms) for w in windows] == [(5 * DAY + 7 * HOUR, 5 * DAY + 8 * HOUR)]
    assert windows[0].rows.tolist() == [0, 1]


def test_empty_windows_between_rows_are_kept_not_dropped() -> None:
    windows = split_windows(_table([0, 10, 3 * HOUR + 5]), window="1h")
    assert [w.size for w in windows] == [2, 0, 0, 1]
    assert [w.index for w in windows] == [0, 1, 2, 3]
    assert windows[1].rows.size == 0 and windows[1].start_ms == HOUR


def test_a_fixed_range_keeps_empty_windows_at_both_ends_and_drops_rows_outside() -> None:
    table = _table([-1, 2 * HOUR + 1, 2 * HOUR + 2, 6 * HOUR])
    windows = split_windows(table, window="1h", start_ms=0, end_ms=5 * HOUR)
    assert [w.start_ms for w in windows] == [0, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR]
    assert [w.rows.tolist() for w in windows] == [[], [], [1, 2], [], []]


def test_a_fixed_range_over_no_rows_gives_every_window_empty() -> None:
    windows = split_windows(_table([]), window="1d", start_ms=0, end_ms=3 * DAY)
    assert [w.size for w in windows] == [0, 0, 0]


def test_no_rows_and_no_range_gives_no_windows() -> None:
    assert split_windows(_table([]), window="1h") == []


def test_rows_keep_their_table_order_inside_a_window() -> None:
    windows = split_windows(_table([50, 10, 30, HOUR + 1, 20]), window="1h")
    assert windows[0].rows.tolist() == [0, 1, 2, 4]


def test_times_before_1970_align_downwards() -> None:
    windows = split_windows(_table([-1, 0]), window="1h")
    assert [(w.start_ms, w.size) for w in windows] == [(-HOUR, 1), (0, 1)]


def test_count_windows_follow_time_and_keep_a_short_last_window() -> None:
    table = _table([40, 10, 30, 20, 50])
    windows = split_windows(table, count=2)
    assert [sorted(table["time_ms"][w.rows]) for w in windows] == [[10, 20], [30, 40], [50]]
    assert [(w.start_ms, w.end_ms) for w in windows] == [(10, 21), (30, 41), (50, 51)]


def test_count_windows_without_a_time_column_follow_the_table_order() -> None:
    windows = split_windows(pd.DataFrame({"x": range(5)}), count=2)
    assert [w.rows.tolist() for w in windows] == [[0, 1], [2, 3], [4]]
    assert windows[0].start_ms is None


def test_datetime_columns_are_read_as_utc_milliseconds() -> None:
    naive = pd.DataFrame({"time_ms": pd.to_datetime([0, HOUR + 5], unit="ms")})
    aware = pd.DataFrame({"time_ms": pd.to_datetime([0, HOUR + 5], unit="ms", utc=True)})
    for table in (naive, aware):
        windows = split_windows(table, window="1h")
        assert [(w.start_ms, w.size) for w in windows] == [(0, 1), (HOUR, 1)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"window": "1h", "count": 10}, "exactly one"),
        ({"count": 0}, "count="),
        ({"count": True}, "count="),
        ({"count": 2.5}, "count="),
        ({"window": "1h", "start_ms": 10, "end_ms": 10}, "before"),
        ({"window": "1h", "start_ms": 1.5}, "start_ms="),
        ({"window": "1h", "time_column": "when"}, "no 'when' column"),
    ],
)
def test_bad_window_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        split_windows(_table([0, 1]), **kwargs)


@pytest.mark.parametrize("times", [[0.0, np.nan], [0.5, 1.0]])
def test_missing_or_fractional_times_are_refused(times: list[float]) -> None:
    with pytest.raises(InvalidInput, match="time_ms"):
        split_windows(pd.DataFrame({"time_ms": times}), window="1h")


def test_too_many_windows_are_refused_before_any_is_built() -> None:
    with pytest.raises(InvalidInput, match="wider window"):
        split_windows(_table([0, 10**12]), window="1s")


@EXAMPLES
@given(
    times=st.lists(st.integers(-(10**8), 10**8), max_size=60),
    width=st.integers(10**4, 10**8),
    start=st.one_of(st.none(), st.integers(-(10**8), 0)),
)
def test_time_windows_partition_the_rows_in_range(times, width, start) -> None:
    table = _table(times)
    windows = split_windows(table, window=width, start_ms=start)
    kept = [i for i, t in enumerate(times) if start is None or t >= start]
    assert sorted(np.concatenate([w.rows for w in windows] or [[]]).tolist()) == kept
    for previous, current in zip(windows, windows[1:], strict=False):
        assert previous.end_ms == current.start_ms
    for w in windows:
        assert w.start_ms % width == 0 and w.end_ms - w.start_ms == width
        assert all(w.start_ms <= times[i] < w.end_ms for i in w.rows)


@EXAMPLES
@given(n=st.integers(0, 50), count=st.integers(1, 20))
def test_count_windows_cover_every_row_once_in_full_windows(n: int, count: int) -> None:
    rng = np.random.default_rng(n)
    table = _table(rng.integers(0, 100, n).tolist())
    windows = split_windows(table, count=count)
    sizes = [w.size for w in windows]
    assert sum(sizes) == n and all(s == count for s in sizes[:-1])
    assert sorted(np.concatenate([w.rows for w in windows] or [[]]).tolist()) == list(range(n))
