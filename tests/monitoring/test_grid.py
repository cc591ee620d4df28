"""The grid's KS, Wasserstein, quantiles and bin counts equal the sort-based definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.monitoring.stats.binned import _quantile_bin_counts
from perennia.monitoring.stats.grid import GRID_SIZE, PairGrid, ks_and_wasserstein
from perennia.monitoring.stats.grid_bins import counts_below, psi_counts, reference_quantiles

EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIZES = st.sampled_from([2, 4, 64, GRID_SIZE])


@st.composite
def samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of sizes 1..3000: continuous, heavy ties, constant, outliers or negative."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m = draw(st.integers(1, 3000))
    n = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["continuous", "ties", "constant", "outliers", "negative"]))
    shift = draw(st.floats(-1.0, 1.0))
    a = rng.normal(0.0, 1.0, m)
    b = rng.normal(shift, draw(st.floats(0.5, 2.0)), n)
    if kind == "ties":
        a, b = np.round(a), np.round(b * 2) / 2
    elif kind == "constant":
        a = np.full(m, 1.0)
        b = np.full(n, draw(st.sampled_from([1.0, 2.0, -3.5])))
    elif kind == "outliers":
        b[rng.integers(0, n, max(1, n // 100))] = 1e6
        a[0] = -1e6 if draw(st.booleans()) else a[0]
    elif kind == "negative":
        a, b = -np.abs(a) - 50.0, -np.abs(b) - 50.0
    return a, b


def assert_matches_scipy(a: np.ndarray, b: np.ndarray, size: int) -> None:
    ours = ks_and_wasserstein(a, b, size)
    assert abs(ours.ks - sst.ks_2samp(a, b).statistic) <= 1e-12
    theirs = sst.wasserstein_distance(a, b)
    assert math.isclose(ours.wasserstein, theirs, rel_tol=1e-9, abs_tol=1e-12)


@EXAMPLES
@given(samples(), SIZES)
def test_ks_and_wasserstein_equal_scipy_on_any_grid(
    pair: tuple[np.ndarray, np.ndarray], size: int
) -> None:
    assert_matches_scipy(*pair, size)


@pytest.mark.parametrize("size", [2, 4, 64, GRID_SIZE])
def test_one_element_samples_match_scipy(size: int) -> None:
    rng = np.random.default_rng(1)
    many = rng.normal(size=500)
    assert_matches_scipy(np.array([0.3]), many, size)
    assert_matches_scipy(many, np.array([-0.7]), size)
    assert_matches_scipy(np.array([0.3]), np.array([2.0]), size)


def test_identical_constant_samples_have_zero_distance() -> None:
    result = ks_and_wasserstein(np.full(10, 4.0), np.full(7, 4.0))
    assert (result.ks, result.wasserstein) == (0.0, 0.0)


def test_values_near_the_float_limit_fall_back_to_sorting_and_stay_exact() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(-1.0, 1.0, 400) * 1.7e308
    b = rng.uniform(-0.5, 1.0, 300) * 1.7e308
    # The pooled span overflows to infinity: no grid can be built, so both are found by sorting.
    assert PairGrid.build(a, b, GRID_SIZE) is None
    assert_matches_scipy(a, b, GRID_SIZE)


def test_values_near_1e300_are_gridded_and_match_scipy() -> None:
    rng = np.random.default_rng(5)
    a = rng.uniform(-1.0, 1.0, 400) * 1e300
    b = rng.uniform(-0.5, 1.5, 300) * 1e300
    assert PairGrid.build(a, b, GRID_SIZE) is not None
    assert_matches_scipy(a, b, GRID_SIZE)


def test_a_subnormal_range_falls_back_and_matches_scipy() -> None:
    # size / span overflows for a span of a few subnormals.
    a, b = np.array([0.0, 1e-320, 3e-321]), np.array([5e-324, 2e-320])
    assert PairGrid.build(a, b, GRID_SIZE) is None
    assert_matches_scipy(a, b, GRID_SIZE)


def test_a_wide_but_finite_range_still_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.normal(size=1000), [-1e150]])
    b = np.concatenate([rng.normal(0.2, 1.0, 900), [1e150]])
    assert_matches_scipy(a, b, GRID_SIZE)


def test_a_large_shifted_sample_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=100_000), rng.normal(0.05, 1.1, 80_000)
    assert_matches_scipy(a, b, GRID_SIZE)


@EXAMPLES
@given(samples(), SIZES, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_reference_quantiles_equal_numpy_exactly(
    pair: tuple[np.ndarray, np.ndarray], size: int, probs: list[float]
) -> None:
    a, b = pair
    grid = PairGrid.build(a, b, size)
    if grid is None:
        return  # a constant pooled sample has no grid; the engine handles it without one
    probs_array = np.array([0.0, 1.0, *probs])
    np.testing.assert_array_equal(
        reference_quantiles(grid, probs_array), np.quantile(a, probs_array)
    )


@EXAMPLES
@given(samples(), SIZES, st.data())
def test_counts_below_equal_searchsorted_on_the_sorted_sample(
    pair: tuple[np.ndarray, np.ndarray], size: int, data: st.DataObject
) -> None:
    a, b = pair
    grid = PairGrid.build(a, b, size)
    if grid is None:
        return
    pooled = np.concatenate([a, b])
    # Edges at sample values (ties), between them, and outside the pooled range.
    chosen = data.draw(st.lists(st.integers(0, pooled.size - 1), min_size=1, max_size=15))
    edges = np.concatenate(
        [pooled[chosen], pooled[chosen] + 1e-3, [pooled.min() - 1, pooled.max() + 1]]
    )
    for name, values in (("a", a), ("b", b)):
        ordered = np.sort(values)
        np.testing.assert_array_equal(
            counts_below(grid, name, edges, inclusive=False),
            np.searchsorted(ordered, edges, "left"),
        )
        np.testing.assert_array_equal(
            counts_below(grid, name, edges, inclusive=True),
            np.searchsorted(ordered, edges, "right"),
        )


@EXAMPLES
@given(samples(), SIZES, st.integers(1, 30))
def test_psi_counts_equal_the_sorted_psi_bins(
    pair: tuple[np.ndarray, np.ndarray], size: int, bins: int
) -> None:
    a, b = pair
    grid = PairGrid.build(a, b, size)
    if grid is None:
        return
    edges = np.unique(np.quantile(a, np.linspace(0.0, 1.0, bins + 1)))
    ours_a, ours_b = psi_counts(grid, bins)
    np.testing.assert_array_equal(ours_a, _quantile_bin_counts(a, edges))
    np.testing.assert_array_equal(ours_b, _quantile_bin_counts(b, edges))
