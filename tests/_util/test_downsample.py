"""The pure downsamplers against brute force: min/max per bucket keeps every bucket's exact
extremes (so the global ones), in order and deterministically; LTTB keeps the ends and order."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia._util.downsample import group_extremes, lttb, minmax, step_buckets

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan]),
)


@st.composite
def series(draw):
    """Return (steps, values): non-decreasing integer steps (repeats allowed) and any floats."""
    n = draw(st.integers(0, 300))
    gaps = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    steps = np.cumsum(np.array(gaps, dtype=np.int64)) + draw(st.integers(-1000, 1000))
    values = np.array(draw(st.lists(VALUES, min_size=n, max_size=n)), dtype=np.float64)
    return steps, values


def _extremes(values: np.ndarray) -> tuple[float, float] | None:
    finite = values[~np.isnan(values)]
    return None if not len(finite) else (float(finite.min()), float(finite.max()))


@settings(max_examples=200, deadline=None)
@given(series(), st.integers(4, 64))
def test_minmax_keeps_each_buckets_exact_extremes(data, max_points):
    steps, values = data
    kept = minmax(steps, values, max_points)
    assert len(kept) <= max(max_points, 0) and list(kept) == sorted(set(kept.tolist()))
    assert np.array_equal(kept, minmax(steps, values, max_points))  # deterministic
    if len(values) <= max_points:
        assert list(kept) == list(range(len(values)))
        return
    buckets = step_buckets(steps, max_points // 2)
    for bucket in np.unique(buckets):
        inside = buckets == bucket
        expected = _extremes(values[inside])
        chosen = values[kept[buckets[kept] == bucket]]
        if expected is None:
            assert not len(chosen)
        else:
            assert (float(chosen.min()), float(chosen.max())) == expected
    overall = _extremes(values)
    if overall is not None:
        assert overall[0] in values[kept] and overall[1] in values[kept]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), VALUES), max_size=200))
def test_group_extremes_match_brute_force_and_prefer_the_first_tie(pairs):
    pairs.sort(key=lambda pair: pair[0])
    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.float64)
    kept = group_extremes(groups, values)
    expected = set()
    for g in set(groups.tolist()):
        members = [i for i, (h, v) in enumerate(pairs) if h == g and not math.isnan(v)]
        if members:
            expected.add(min(members, key=lambda i: (pairs[i][1], i)))
            expected.add(min(members, key=lambda i: (-pairs[i][1], i)))
    assert sorted(expected) == kept.tolist()


def test_step_buckets_cover_the_range_evenly():
    ids = step_buckets(np.arange(100), 10)
    assert ids.tolist() == [i // 10 for i in range(99)] + [9]
    assert step_buckets(np.array([5, 5, 5]), 4).tolist() == [0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(series(), st.integers(3, 40))
def test_lttb_keeps_ends_order_and_size(data, n_out):
    steps, values = data
    kept = lttb(steps, values, n_out)
    assert np.array_equal(kept, lttb(steps, values, n_out))
    if len(values) <= n_out:
        assert kept.tolist() == list(range(len(values)))
        return
    assert len(kept) == n_out and kept[0] == 0 and kept[-1] == len(values) - 1
    assert kept.tolist() == sorted(set(kept.tolist()))


def test_lttb_picks_the_spike():
    values = np.zeros(1000)
    values[537] = 10.0
    assert 537 in lttb(np.arange(1000), values, 20).tolist()
