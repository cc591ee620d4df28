"""Benjamini-Hochberg against scipy's false_discovery_control."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.stats import benjamini_hochberg

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

p_values = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 1.0])), min_size=1, max_size=300
)


@EXAMPLES
@given(p_values, st.floats(0.001, 0.5))
def test_adjusted_values_match_scipy(values: list[float], alpha: float) -> None:
    p = np.array(values)
    rejected, adjusted = benjamini_hochberg(p, alpha=alpha)
    np.testing.assert_allclose(
        adjusted, sst.false_discovery_control(p, method="bh"), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(rejected, adjusted <= alpha)
    assert rejected.dtype == bool


@EXAMPLES
@given(p_values, st.floats(0.001, 0.5))
def test_rejections_are_the_step_up_procedure(values: list[float], alpha: float) -> None:
    p = np.array(values)
    ranked = np.sort(p)
    thresholds = alpha * np.arange(1, p.size + 1) / p.size
    # A p-value on its rank's threshold passes or not by rounding alone (p = alpha = 0.409 in
    # a sample of 3 made `alpha * 3 / 3` round below p); the rule is only defined off that edge.
    assume(not np.isclose(ranked, thresholds, rtol=1e-12, atol=0).any())
    rejected, _ = benjamini_hochberg(p, alpha=alpha)
    passing = np.flatnonzero(ranked <= thresholds)
    # Reject every hypothesis up to the largest rank that passes its threshold.
    cutoff = ranked[passing[-1]] if passing.size else -1.0
    # Ties at the cutoff resolve the same way within rounding of the adjusted values.
    np.testing.assert_array_equal(rejected[p != cutoff], (p <= cutoff)[p != cutoff])


def test_a_worked_example() -> None:
    rejected, adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.2], alpha=0.05)
    assert rejected.tolist() == [True, False, False, False]
    assert adjusted.tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])


@pytest.mark.parametrize(
    ("values", "alpha", "message"),
    [
        ([], 0.05, "p_values must hold at least 1"),
        ([[0.1]], 0.05, "p_values must be a 1-D array"),
        ([0.1, np.nan], 0.05, "p_values must be finite"),
        ([0.1, 1.5], 0.05, r"p_values must lie in \[0, 1\]"),
        ([0.1], 0.0, "alpha must be a number strictly between 0 and 1"),
        ([0.1], 1.0, "alpha must be a number strictly between 0 and 1"),
    ],
)
def test_bad_input_is_refused(values, alpha: float, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        benjamini_hochberg(values, alpha=alpha)
