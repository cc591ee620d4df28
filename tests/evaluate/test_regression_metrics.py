"""Regression metrics against scikit-learn, and the ones it lacks against plain-Python formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.evaluate.metrics import (
    explained_variance_score,
    max_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    median_absolute_error,
    r2_score,
    regression_report,
    residual_summary,
    root_mean_squared_error,
    symmetric_mean_absolute_percentage_error,
    weighted_mean_absolute_percentage_error,
)

EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

# Small integers give ties in the errors (where the weighted median's averaging matters) and
# zeros in the targets; floats give everything else.
VALUES = st.one_of(st.integers(-3, 3).map(float), st.floats(-100.0, 100.0, allow_subnormal=False))
WEIGHTS = st.one_of(
    st.sampled_from([0.0, 1.0, 2.0, 0.5]), st.floats(0.0, 10.0, allow_subnormal=False)
)


@st.composite
def regression_rows(draw, weighted=None, max_size=60):
    """Return (y_true, y_pred, weights or None); y_true is not constant (see the edge tests)."""
    n = draw(st.integers(2, max_size))
    y = np.array(draw(st.lists(VALUES, min_size=n, max_size=n)))
    y[1] = y[0] + draw(st.sampled_from([1.0, -2.5, 7.0]))
    pred = np.array(draw(st.lists(VALUES, min_size=n, max_size=n)))
    if weighted is None:
        weighted = draw(st.booleans())
    weights = None
    if weighted:
        weights = np.array(draw(st.lists(WEIGHTS, min_size=n, max_size=n)))
        weights[0] = weights[0] or 1.0
        weights[1] = weights[1] or 1.0
    return y, pred, weights


SKLEARN_PAIRS = [
    (r2_score, skm.r2_score),
    (mean_squared_error, skm.mean_squared_error),
    (root_mean_squared_error, skm.root_mean_squared_error),
    (mean_absolute_error, skm.mean_absolute_error),
    (median_absolute_error, skm.median_absolute_error),
    (explained_variance_score, skm.explained_variance_score),
]


@EXAMPLES
@given(regression_rows())
def test_weighted_metrics_match_sklearn(data) -> None:
    y, pred, w = data
    for ours, theirs in SKLEARN_PAIRS:
        assert ours(y, pred, sample_weight=w) == pytest.approx(
            theirs(y, pred, sample_weight=w), abs=ATOL
        ), ours.__name__
    # MAPE divides by |y| (at least eps): compare relative to its size.
    assert mean_absolute_percentage_error(y, pred, sample_weight=w) == pytest.approx(
        skm.mean_absolute_percentage_error(y, pred, sample_weight=w), rel=1e-12, abs=ATOL
    )
    assert max_error(y, pred) == pytest.approx(skm.max_error(y, pred), abs=ATOL)


@EXAMPLES
@given(regression_rows(weighted=True))
def test_weighted_median_uses_the_averaged_inverted_cdf_like_sklearn(data) -> None:
    y, pred, w = data
    # Integer weights on half the rows: cumulative weight often hits exactly half the total.
    w = np.where(np.arange(w.size) % 2 == 0, np.ceil(w), 0.0)
    w[0] = w[0] or 1.0
    assert median_absolute_error(y, pred, sample_weight=w) == pytest.approx(
        skm.median_absolute_error(y, pred, sample_weight=w), abs=ATOL
    )


def test_weighted_median_of_two_equal_weights_is_their_average_like_sklearn() -> None:
    y, pred, w = [0.0, 0.0], [1.0, 3.0], [1.0, 1.0]
    assert median_absolute_error(y, pred, sample_weight=w) == skm.median_absolute_error(
        y, pred, sample_weight=w
    )
    assert median_absolute_error(y, pred, sample_weight=w) == 2.0


def slow_smape(y, pred, w):
    weights = [1.0] * len(y) if w is None else list(w)
    total = 0.0
    for a, b, weight in zip(y, pred, weights, strict=True):
        scale = abs(a) + abs(b)
        total += weight * (0.0 if scale == 0 else 2 * abs(a - b) / scale)
    return total / sum(weights)


def slow_wmape(y, pred, w):
    weights = [1.0] * len(y) if w is None else list(w)
    error = sum(weight * abs(a - b) for a, b, weight in zip(y, pred, weights, strict=True))
    scale = sum(weight * abs(a) for a, weight in zip(y, weights, strict=True))
    if scale == 0:
        return 0.0 if error == 0 else math.inf
    return error / scale


@EXAMPLES
@given(regression_rows())
def test_smape_and_wmape_match_their_documented_formulas(data) -> None:
    y, pred, w = data
    assert symmetric_mean_absolute_percentage_error(y, pred, sample_weight=w) == pytest.approx(
        slow_smape(y, pred, w), abs=ATOL
    )
    assert weighted_mean_absolute_percentage_error(y, pred, sample_weight=w) == pytest.approx(
        slow_wmape(y, pred, w), rel=1e-12, abs=ATOL
    )


def test_smape_lies_in_zero_to_two_and_both_zero_rows_count_zero() -> None:
    assert symmetric_mean_absolute_percentage_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert symmetric_mean_absolute_percentage_error([1.0, -1.0], [-1.0, 1.0]) == 2.0
    assert symmetric_mean_absolute_percentage_error([0.0, 2.0], [0.0, 1.0]) == pytest.approx(
        slow_smape([0.0, 2.0], [0.0, 1.0], None), abs=ATOL
    )


def test_wmape_of_all_zero_targets_is_zero_or_infinite_as_documented() -> None:
    assert weighted_mean_absolute_percentage_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert weighted_mean_absolute_percentage_error([0.0, 0.0], [1.0, 0.0]) == math.inf


def test_mape_of_a_zero_target_is_huge_but_finite_like_sklearn() -> None:
    y, pred = [0.0, 2.0], [1.0, 1.0]
    value = mean_absolute_percentage_error(y, pred)
    assert math.isfinite(value) and value > 1e15
    assert value == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-12)


@pytest.mark.parametrize("weights", [None, [1.0, 0.0, 2.5]])
def test_constant_target_gives_r2_and_explained_variance_one_or_zero_like_sklearn(weights):
    y = [4.0, 4.0, 4.0]
    for function, theirs in (
        (r2_score, skm.r2_score),
        (explained_variance_score, skm.explained_variance_score),
    ):
        assert function(y, y, sample_weight=weights) == 1.0
        assert function(y, [4.0, 5.0, 3.0], sample_weight=weights) == 0.0
        assert theirs(y, [4.0, 5.0, 3.0], sample_weight=weights) == 0.0


def test_explained_variance_forgives_a_constant_offset_that_r2_does_not() -> None:
    y, pred = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]
    assert explained_variance_score(y, pred) == 1.0
    assert r2_score(y, pred) == pytest.approx(skm.r2_score(y, pred), abs=ATOL)


@EXAMPLES
@given(regression_rows())
def test_residual_summary_matches_numpy(data) -> None:
    y, pred, w = data
    residual = y - pred
    mean = np.average(residual, weights=w)
    quantiles = np.quantile(residual, [0.05, 0.25, 0.5, 0.75, 0.95])
    expected = {
        "mean": mean,
        "std": math.sqrt(np.average((residual - mean) ** 2, weights=w)),
        "min": residual.min(),
        "q05": quantiles[0],
        "q25": quantiles[1],
        "median": quantiles[2],
        "q75": quantiles[3],
        "q95": quantiles[4],
        "max": residual.max(),
    }
    assert residual_summary(y, pred, sample_weight=w) == pytest.approx(expected, abs=ATOL)


@EXAMPLES
@given(regression_rows())
def test_regression_report_equals_the_individual_metrics(data) -> None:
    y, pred, w = data
    report = regression_report(y, pred, sample_weight=w)
    expected = {
        "r2": skm.r2_score(y, pred, sample_weight=w),
        "mse": skm.mean_squared_error(y, pred, sample_weight=w),
        "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
        "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
        "median_ae": skm.median_absolute_error(y, pred, sample_weight=w),
        "mape": mean_absolute_percentage_error(y, pred, sample_weight=w),
        "smape": slow_smape(y, pred, w),
        "wmape": slow_wmape(y, pred, w),
        "explained_variance": skm.explained_variance_score(y, pred, sample_weight=w),
        "max_error": skm.max_error(y, pred),
    }
    assert set(report) == set(expected)
    assert report == pytest.approx(expected, rel=1e-12, abs=ATOL)
