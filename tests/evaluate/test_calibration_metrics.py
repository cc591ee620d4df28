"""Calibration curves and calibration errors against scikit-learn and plain-Python loops."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve as sk_calibration_curve

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    CalibrationBins,
    binary_classification_report,
    calibration_curve,
    expected_calibration_error,
    maximum_calibration_error,
)

EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

# Fractions k/d and numpy's own linspace edges: many values sit exactly on (or one ulp
# beside) a uniform bin edge, and repeated values put quantile edges on data points.
_EDGES = {float(v) for d in range(1, 16) for v in np.linspace(0.0, 1.0, d + 1)}
_FRACTIONS = {k / d for d in range(1, 16) for k in range(d + 1)}
ON_EDGES = st.sampled_from(sorted(_EDGES | _FRACTIONS))
PROBABILITIES = st.one_of(ON_EDGES, st.floats(0.0, 1.0, allow_subnormal=False))
STRATEGIES = st.sampled_from(["uniform", "quantile"])
N_BINS = st.integers(1, 15)
WEIGHTS = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(0.0, 10.0, allow_subnormal=False)
)


@st.composite
def calibration_rows(draw, weighted=False, max_size=60):
    """Return (y as 0/1, probabilities, weights or None); either class may be missing."""
    n = draw(st.integers(1, max_size))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    values = draw(st.sampled_from([ON_EDGES, PROBABILITIES]))
    prob = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    weights = None
    if weighted:
        weights = np.array(draw(st.lists(WEIGHTS, min_size=n, max_size=n)))
        weights[0] = weights[0] or 1.0
    return y, prob, weights


def edges_of(prob, n_bins, strategy):
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    return np.percentile(prob, np.linspace(0, 1, n_bins + 1) * 100)


def slow_bins(y, prob, weights, n_bins, strategy):
    """Return per non-empty bin (count, weight, mean probability, fraction positive), by loop."""
    inner = [float(e) for e in edges_of(prob, n_bins, strategy)[1:-1]]
    count = [0] * n_bins
    weight, prob_sum, positive = [0.0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for i, p in enumerate(prob):
        w = 1.0 if weights is None else float(weights[i])
        b = bisect.bisect_left(inner, float(p))  # a value on an inner edge goes to the lower bin
        count[b] += 1
        weight[b] += w
        prob_sum[b] += w * float(p)
        positive[b] += w * float(y[i])
    return [
        (count[b], weight[b], prob_sum[b] / weight[b], positive[b] / weight[b])
        for b in range(n_bins)
        if weight[b] > 0
    ]


@EXAMPLES
@given(calibration_rows(), N_BINS, STRATEGIES)
def test_calibration_curve_matches_sklearn(data, n_bins, strategy) -> None:
    y, prob, _ = data
    fraction, mean = calibration_curve(y, prob, n_bins=n_bins, strategy=strategy)
    sk_fraction, sk_mean = sk_calibration_curve(y, prob, n_bins=n_bins, strategy=strategy)
    assert fraction.shape == sk_fraction.shape
    np.testing.assert_allclose(fraction, sk_fraction, rtol=0, atol=ATOL)
    np.testing.assert_allclose(mean, sk_mean, rtol=0, atol=ATOL)


@EXAMPLES
@given(calibration_rows(), N_BINS, STRATEGIES)
def test_calibration_curve_with_string_labels_matches_sklearn(data, n_bins, strategy) -> None:
    y, prob, _ = data
    names = np.array(["stay", "churn"])[y]
    for pos in ("stay", "churn"):
        actual = calibration_curve(names, prob, n_bins=n_bins, strategy=strategy, pos_label=pos)
        expected = sk_calibration_curve(
            names, prob, n_bins=n_bins, strategy=strategy, pos_label=pos
        )
        for got, want in zip(actual, expected, strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@EXAMPLES
@given(calibration_rows(), N_BINS, STRATEGIES)
def test_ece_and_mce_follow_the_formula_over_sklearns_bins(data, n_bins, strategy) -> None:
    y, prob, _ = data
    sk_fraction, sk_mean = sk_calibration_curve(y, prob, n_bins=n_bins, strategy=strategy)
    counts = np.array([count for count, *_ in slow_bins(y, prob, None, n_bins, strategy)])
    assert counts.size == sk_fraction.size
    gaps = np.abs(sk_fraction - sk_mean)
    options = {"n_bins": n_bins, "strategy": strategy}
    assert expected_calibration_error(y, prob, **options) == pytest.approx(
        float(counts @ gaps) / y.size, abs=ATOL
    )
    assert maximum_calibration_error(y, prob, **options) == pytest.approx(
        float(gaps.max()), abs=ATOL
    )


@EXAMPLES
@given(calibration_rows(weighted=True), N_BINS, STRATEGIES)
def test_weighted_calibration_matches_a_plain_loop(data, n_bins, strategy) -> None:
    y, prob, w = data
    expected = slow_bins(y, prob, w, n_bins, strategy)
    bins = CalibrationBins.build(y, prob, n_bins=n_bins, strategy=strategy, sample_weight=w)
    np.testing.assert_array_equal(bins.count, [row[0] for row in expected])
    np.testing.assert_allclose(bins.weight, [row[1] for row in expected], rtol=0, atol=ATOL)
    np.testing.assert_allclose(bins.mean_predicted, [row[2] for row in expected], rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        bins.fraction_positive, [row[3] for row in expected], rtol=0, atol=ATOL
    )
    gaps = [(weight, abs(frac - mean)) for _, weight, mean, frac in expected]
    total = sum(weight for weight, _ in gaps)
    options = {"n_bins": n_bins, "strategy": strategy, "sample_weight": w}
    assert expected_calibration_error(y, prob, **options) == pytest.approx(
        sum(weight * gap for weight, gap in gaps) / total, abs=ATOL
    )
    assert maximum_calibration_error(y, prob, **options) == pytest.approx(
        max(gap for _, gap in gaps), abs=ATOL
    )
    fraction, mean = calibration_curve(y, prob, **options)
    np.testing.assert_allclose(fraction, bins.fraction_positive, rtol=0, atol=0)
    np.testing.assert_allclose(mean, bins.mean_predicted, rtol=0, atol=0)


@EXAMPLES
@given(calibration_rows(max_size=60), st.integers(1, 15))
def test_suite_quantile_ece_without_sorting_equals_the_standalone_one(data, n_bins) -> None:
    y, prob, _ = data
    # The report needs both classes; the lazily read sorted scores are what is under test.
    y = y.copy()
    prob = np.append(prob, [prob[0], prob[-1]])
    y = np.append(y, [1, 0])
    report = binary_classification_report(y, prob, n_bins=n_bins)
    standalone = expected_calibration_error(y, prob, n_bins=n_bins, strategy="quantile")
    assert report.metrics["ece_quantile"] == pytest.approx(standalone, abs=ATOL)
    slow = slow_bins(y, prob, None, n_bins, "quantile")
    gaps = np.array([abs(frac - mean) for _, _, mean, frac in slow])
    counts = np.array([count for count, *_ in slow])
    assert standalone == pytest.approx(float(counts @ gaps) / y.size, abs=ATOL)


def test_perfectly_calibrated_bins_have_zero_error() -> None:
    y = [0, 0, 1, 1, 0, 1, 1, 1]
    prob = [0.5, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75]
    assert expected_calibration_error(y, prob, n_bins=4) == pytest.approx(0.0, abs=ATOL)
    assert maximum_calibration_error(y, prob, n_bins=4) == pytest.approx(0.0, abs=ATOL)


@pytest.mark.parametrize("only", [0, 1])
def test_one_class_calibration_matches_sklearn(only) -> None:
    y = [only] * 5
    prob = [0.1, 0.4, 0.45, 0.8, 1.0]
    for got, want in zip(
        calibration_curve(y, prob, n_bins=3),
        sk_calibration_curve(y, prob, n_bins=3, pos_label=1),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@pytest.mark.parametrize("n_bins", [0, -2, 2.5, True])
def test_bad_n_bins_is_rejected(n_bins) -> None:
    with pytest.raises(InvalidInput, match="n_bins must be a positive integer"):
        expected_calibration_error([0, 1], [0.2, 0.8], n_bins=n_bins)


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="strategy must be one of"):
        calibration_curve([0, 1], [0.2, 0.8], strategy="kmeans")
