"""Thresholds hold their stated false-alarm rate on unchanged data; NannyML's ±3σ does not.

The simulation is a metric monitored the way it is in production: each of R references is
cut into k chunks of m rows, the metric (an accuracy, a binomial proportion) is computed per
chunk, thresholds are set, and W new windows of unchanged data are judged. The rate is taken
over all R x W windows, so it averages over the luck of the reference draw, which is what a
stated rate promises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import Threshold, reference_thresholds

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
R, W, K, M, ACCURACY = 400, 50, 10, 500, 0.85
TARGET = 0.01
# Standard error of a rate near 1% over R x W windows, inflated 3x for windows sharing a
# reference (their alarms are correlated through it); the bound is 1% + 3 such errors.
TOLERANCE = 3 * 3 * math.sqrt(TARGET * (1 - TARGET) / (R * W))


def _false_alarm_rate(seed: int, window_rows: int = M, **options) -> float:
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(R):
        chunks = rng.binomial(M, ACCURACY, K) / M
        threshold = reference_thresholds(chunks.tolist(), target_rate=TARGET, **options)
        new = rng.binomial(window_rows, ACCURACY, W) / window_rows
        alarms += sum(bool(threshold.breached(float(v))) for v in new)
    return alarms / (R * W)


def test_prediction_thresholds_hold_the_stated_rate_where_three_sigma_does_not() -> None:
    ours = _false_alarm_rate(1, method="prediction")
    sigma = _false_alarm_rate(1, method="sigma")
    assert ours <= TARGET + TOLERANCE
    # ±3σ states 0.27% but, with the std of 10 chunks, alarms on about 2.5% of windows.
    assert reference_thresholds([0.0, 1.0], method="sigma").target_rate == pytest.approx(
        0.0027, abs=1e-4
    )
    assert sigma > 2 * TARGET > 5 * 0.0027


def test_prediction_thresholds_rescaled_to_small_windows_keep_the_rate() -> None:
    small = M // 4
    scaled = _false_alarm_rate(2, window_rows=small, chunk_size=M, window_size=small)
    unscaled = _false_alarm_rate(2, window_rows=small)
    assert scaled <= TARGET + TOLERANCE
    assert unscaled > 5 * TARGET  # bounds set for 500 rows alarm often on 125-row windows


def test_quantile_thresholds_hold_the_rate_with_enough_chunks() -> None:
    rng = np.random.default_rng(3)
    alarms = total = 0
    for _ in range(100):
        chunks = rng.normal(0.0, 1.0, 250)
        threshold = reference_thresholds(chunks.tolist(), target_rate=TARGET, method="quantile")
        new = rng.normal(0.0, 1.0, 100)
        alarms += sum(bool(threshold.breached(float(v))) for v in new)
        total += new.size
    assert alarms / total <= TARGET + 3 * math.sqrt(TARGET / total) * 3


def test_quantile_thresholds_with_too_few_chunks_say_how_many_are_needed() -> None:
    with pytest.raises(InvalidInput, match="at least 199 reference chunks"):
        reference_thresholds(list(range(50)), target_rate=0.01, method="quantile")


def test_prediction_interval_matches_the_t_formula() -> None:
    values = [0.81, 0.84, 0.83, 0.86, 0.80, 0.85]
    k, mean, s = len(values), np.mean(values), np.std(values, ddof=1)
    half = stats.t.ppf(1 - 0.005, k - 1) * s * math.sqrt(1 + 1 / k)
    threshold = reference_thresholds(values)
    assert threshold.lower == pytest.approx(mean - half, rel=1e-12)
    assert threshold.upper == pytest.approx(mean + half, rel=1e-12)
    assert (threshold.method, threshold.target_rate) == ("prediction", 0.01)


def test_sigma_uses_the_population_std_as_nannyml_does() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    threshold = reference_thresholds(values, method="sigma")
    assert threshold.upper == pytest.approx(2.5 + 3 * np.std(values))


def test_bonferroni_divides_the_rate_among_monitored_values() -> None:
    values = [0.1, 0.3, 0.2, 0.25, 0.15]
    single = reference_thresholds(values, target_rate=0.02, n_values=4)
    direct = reference_thresholds(values, target_rate=0.005)
    assert (single.lower, single.upper) == pytest.approx((direct.lower, direct.upper))
    assert single.target_rate == 0.02


def test_one_sided_thresholds_put_the_whole_rate_on_one_side() -> None:
    values = [0.1, 0.3, 0.2, 0.25, 0.15]
    lower = reference_thresholds(values, side="lower")
    two_sided = reference_thresholds(values, target_rate=0.02)
    assert lower.upper is None and lower.lower == pytest.approx(two_sided.lower)
    assert reference_thresholds(values, side="upper").lower is None


def test_limits_clip_bounds_to_the_possible_range() -> None:
    threshold = reference_thresholds([0.97, 0.99, 1.0, 0.98], limits=(0.0, 1.0))
    assert threshold.upper == 1.0 and threshold.lower < 0.97


def test_missing_chunk_values_are_left_out() -> None:
    with_gaps = reference_thresholds([0.5, None, 0.6, float("nan"), 0.7])
    assert with_gaps == reference_thresholds([0.5, 0.6, 0.7])


def test_breached_is_strictly_outside_and_unknown_without_a_value() -> None:
    threshold = Threshold(0.2, 0.8, "prediction", 0.01)
    assert [threshold.breached(v) for v in (0.2, 0.5, 0.8)] == [False, False, False]
    assert threshold.breached(0.19) and threshold.breached(0.81)
    assert threshold.breached(None) is None and threshold.breached(float("nan")) is None
    assert Threshold(None, 0.8, "prediction", 0.01).breached(-5.0) is False


@pytest.mark.parametrize(
    ("values", "options", "message"),
    [
        ([0.5], {}, "at least 2 reference chunks"),
        ([None, None], {}, "at least 2 reference chunks"),
        ([0.5, 0.6], {"target_rate": 0.0}, "target_rate="),
        ([0.5, 0.6], {"target_rate": 1.5}, "target_rate="),
        ([0.5, 0.6], {"method": "iqr"}, "method="),
        ([0.5, 0.6], {"side": "left"}, "side="),
        ([0.5, 0.6], {"n_values": 0}, "n_values="),
        ([0.5, 0.6], {"chunk_size": 100}, "window_size="),
        ([0.5, float("inf")], {}, "finite"),
        (["a", "b"], {}, "numbers"),
        ("0.5", {}, "sequence"),
        ([0.5, 0.6], {"method": "sigma", "multiplier": -1}, "multiplier="),
    ],
)
def test_bad_threshold_arguments_are_refused(values, options, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        reference_thresholds(values, **options)


@EXAMPLES
@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30),
    rate=st.floats(0.001, 0.5),
)
def test_prediction_bounds_contain_the_reference_mean_and_widen_as_the_rate_falls(values, rate):
    threshold = reference_thresholds(values, target_rate=rate)
    stricter = reference_thresholds(values, target_rate=rate / 2)
    mean = math.fsum(values) / len(values)
    assert threshold.lower <= mean + 1e-6 * max(1.0, abs(mean))
    assert threshold.upper >= mean - 1e-6 * max(1.0, abs(mean))
    assert stricter.lower <= threshold.lower and stricter.upper >= threshold.upper
