"""The report kit's axes: round ticks and their labels for any range, including hostile ones."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from perennia._util.report.axes import LIMIT, Frame, domain, nice_ticks, tick_label

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def _is_round_axis(ticks: list[float]) -> None:
    assert len(ticks) >= 2 and len(ticks) <= 13
    assert all(math.isfinite(t) for t in ticks)
    assert all(a < b for a, b in zip(ticks, ticks[1:], strict=False))


@given(ANY_FLOAT, ANY_FLOAT)
@example(float("nan"), float("nan"))
@example(float("-inf"), float("inf"))
@example(-1.7e308, 1.7e308)
@example(1e300, 1e300)
@example(0.0, 5e-324)
@example(1.0, 1.0 + 2.2e-16)
@example(7.0, 3.0)
def test_ticks_are_finite_increasing_and_few_for_any_bounds(low, high) -> None:
    _is_round_axis(nice_ticks(low, high))


@given(FINITE, FINITE)
def test_ticks_cover_the_range_they_were_asked_for(a, b) -> None:
    low, high = sorted((max(min(a, LIMIT), -LIMIT), max(min(b, LIMIT), -LIMIT)))
    ticks = nice_ticks(low, high)
    slack = (ticks[1] - ticks[0]) * 1e-6
    assert ticks[0] <= low + slack and ticks[-1] >= high - slack


@given(FINITE, FINITE)
@example(0.0, 1.2)  # steps of 0.25 need two decimals, not "0.2, 0.5, 0.8"
@example(0.0, 12.0)
@example(1e7, 1e7 + 3)
@example(-1e300, 1e300)
def test_tick_labels_are_distinct_short_and_read_back_as_their_values(a, b) -> None:
    ticks = nice_ticks(a, b)
    labels = [tick_label(t, ticks) for t in ticks]
    assert len(set(labels)) == len(labels)
    assert all(len(label) <= 24 for label in labels)
    step = ticks[1] - ticks[0]
    for tick, label in zip(ticks, labels, strict=True):
        scale = {"k": 1e3, "M": 1e6}.get(label[-1], 1.0)
        shown = float(label.rstrip("kM")) * scale
        assert abs(shown - tick) <= step * 0.02


@given(st.lists(ANY_FLOAT, max_size=20), st.lists(ANY_FLOAT, max_size=20))
def test_a_frame_maps_any_values_inside_the_plot(xs, ys) -> None:
    frame = Frame(domain(xs, None), domain(ys, None))
    for x in xs + [0.0]:
        if not math.isnan(x):
            assert frame.left - 1e-6 <= frame.px(x) <= frame.right + 1e-6
    for y in ys + [0.0]:
        if not math.isnan(y):
            assert frame.top - 1e-6 <= frame.py(y) <= frame.bottom + 1e-6


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0]),  # constant data gets room around it
        ([0.0, 0.0], [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6]),
        (
            [float("nan"), None, "x"],
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        ),  # nothing finite: the unit range
        ([-13.0, 48.0], [-20.0, 0.0, 20.0, 40.0, 60.0]),
        ([0.03, 0.97], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        ([-2e-9, -1e-9], [-2e-9, -1.8e-9, -1.6e-9, -1.4e-9, -1.2e-9, -1e-9]),
    ],
)
def test_domain_edge_ranges(values, expected) -> None:
    assert domain(values, None) == pytest.approx(expected)


def test_labels_switch_to_k_m_and_scientific_notation_by_magnitude() -> None:
    def labels(low, high):
        ticks = nice_ticks(low, high)
        return [tick_label(t, ticks) for t in ticks]

    assert labels(0, 50_000) == ["0k", "10k", "20k", "30k", "40k", "50k"]
    assert labels(-2e6, 8e6) == ["-2M", "0M", "2M", "4M", "6M", "8M"]
    assert labels(0, 0.012) == ["0", "0.0025", "0.0050", "0.0075", "0.0100", "0.0125"]
    assert labels(0, 4e20) == ["0", "1e20", "2e20", "3e20", "4e20"]
    assert labels(0, 3e-8) == ["0", "1e-8", "2e-8", "3e-8"]
