"""The two-sample Anderson-Darling test equals scipy's anderson_ksamp (midrank variant)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.stats.anderson import anderson_darling

EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scipy_midrank(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        # scipy warns whenever its table p-value is capped at 0.001 or 0.25.
        warnings.simplefilter("ignore")
        result = sst.anderson_ksamp([a, b], variant="midrank")
    return float(result.statistic), float(result.pvalue)


@st.composite
def samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of 1..3000 values: continuous, lightly or heavily tied, maybe shifted."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n = draw(st.integers(1, 3000)), draw(st.integers(1, 3000))
    a = rng.normal(0.0, 1.0, m)
    b = rng.normal(draw(st.floats(-0.5, 0.5)), draw(st.floats(0.7, 1.5)), n)
    ties = draw(st.sampled_from([None, 1.0, 0.2]))
    if ties is not None:
        a, b = np.round(a * ties), np.round(b * ties)
    return a, b


@EXAMPLES
@given(samples())
def test_statistic_and_p_value_equal_scipy_midrank(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assume(a.size + b.size >= 4 and np.unique(np.concatenate([a, b])).size >= 2)
    statistic, p_value = scipy_midrank(a, b)
    ours = anderson_darling(a, b)
    assert math.isclose(ours.statistic, statistic, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(ours.p_value, p_value, rel_tol=1e-9, abs_tol=1e-9)
    assert ours.method == "anderson_darling"


def test_p_value_is_capped_at_the_ends_of_the_table_like_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    far = anderson_darling(a, rng.normal(1.0, 1.0, 2000))
    same = anderson_darling(a, a.copy())
    assert far.p_value == 0.001 == scipy_midrank(a, rng.normal(1.0, 1.0, 2000))[1]
    assert same.p_value == 0.25 == scipy_midrank(a, a.copy())[1]


def test_effect_does_not_grow_with_the_sample_size() -> None:
    rng = np.random.default_rng(1)
    small = anderson_darling(rng.normal(size=2_000), rng.normal(0.3, 1.0, 2_000))
    large = anderson_darling(rng.normal(size=50_000), rng.normal(0.3, 1.0, 50_000))
    assert large.statistic > 10 * small.statistic
    assert large.effect == pytest.approx(small.effect, rel=0.3)


def test_one_distinct_value_is_refused() -> None:
    with pytest.raises(InvalidInput, match="two distinct values"):
        anderson_darling([2.0, 2.0, 2.0], [2.0, 2.0])


@pytest.mark.parametrize(("ref", "cur"), [([1.0], [2.0]), ([1.0], [2.0, 3.0]), ([1.0, 2.0], [3.0])])
def test_fewer_than_four_values_are_refused_rather_than_dividing_by_zero(
    ref: list[float], cur: list[float]
) -> None:
    with pytest.raises(InvalidInput, match="at least 4 values"):
        anderson_darling(ref, cur)


def test_four_values_work_and_equal_scipy() -> None:
    a, b = np.array([1.0]), np.array([2.0, 3.0, 4.0])
    ours = anderson_darling(a, b)
    assert (ours.statistic, ours.p_value) == pytest.approx(scipy_midrank(a, b), rel=1e-9)


def test_non_finite_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="finite"):
        anderson_darling([1.0, float("nan"), 2.0, 3.0], [1.0, 2.0])
