"""Bootstrap intervals: percentile intervals, stratified resamples and paired differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics.bootstrap import (
    PairedInterval,
    bootstrap_indices,
    bootstrap_interval,
    paired_bootstrap,
    paired_differences,
)
from perennia.evaluate.metrics.curves import roc_auc_score


def _mean_of(values: np.ndarray):
    def mean(indices: np.ndarray) -> float:
        return float(values[indices].mean())

    return mean


def test_interval_of_a_mean_matches_the_normal_theory_interval() -> None:
    rng = np.random.default_rng(42)
    sample = rng.normal(loc=3.0, scale=2.0, size=2000)
    low, high = bootstrap_interval(_mean_of(sample), sample.size, n_resamples=2000, seed=1)

    half_width = 1.96 * sample.std() / math.sqrt(sample.size)
    assert low == pytest.approx(sample.mean() - half_width, abs=0.1 * half_width)
    assert high == pytest.approx(sample.mean() + half_width, abs=0.1 * half_width)


def test_interval_uses_numpy_linear_percentiles_of_the_resampled_values() -> None:
    sample = np.arange(50, dtype=float)
    values = [sample[i].mean() for i in bootstrap_indices(50, 200, seed=3)]
    expected = tuple(np.percentile(values, [5.0, 95.0]))

    got = bootstrap_interval(_mean_of(sample), 50, n_resamples=200, confidence=0.9, seed=3)
    assert got == pytest.approx(expected, abs=1e-12)


def test_higher_confidence_gives_a_wider_interval() -> None:
    sample = np.random.default_rng(0).normal(size=300)
    narrow = bootstrap_interval(_mean_of(sample), 300, n_resamples=300, confidence=0.5)
    wide = bootstrap_interval(_mean_of(sample), 300, n_resamples=300, confidence=0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_same_seed_gives_the_same_resamples_and_another_seed_different_ones() -> None:
    first = list(bootstrap_indices(100, 5, seed=7))
    again = list(bootstrap_indices(100, 5, seed=7))
    other = list(bootstrap_indices(100, 5, seed=8))

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    sample = np.random.default_rng(1).normal(size=100)
    assert bootstrap_interval(_mean_of(sample), 100, n_resamples=50, seed=7) == (
        bootstrap_interval(_mean_of(sample), 100, n_resamples=50, seed=7)
    )


def test_resamples_have_n_indices_within_range() -> None:
    resamples = list(bootstrap_indices(30, 4, seed=None))
    assert len(resamples) == 4
    for indices in resamples:
        assert indices.shape == (30,)
        assert indices.min() >= 0 and indices.max() < 30


@settings(max_examples=40, deadline=None)
@given(
    strata=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=40),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_resamples_keep_each_rows_stratum_and_the_counts(
    strata: list[str], seed: int
) -> None:
    labels = np.array(strata)
    for indices in bootstrap_indices(labels.size, 5, seed=seed, strata=labels):
        # Row i is drawn from row i's stratum, so the per-stratum counts cannot change.
        assert np.array_equal(labels[indices], labels)


def test_stratified_resamples_draw_within_a_stratum_with_replacement() -> None:
    labels = np.array([0] * 50 + [1] * 50)
    drawn = np.concatenate(list(bootstrap_indices(100, 20, seed=0, strata=labels)))
    assert set(drawn[labels[drawn] == 0]) == set(range(50))
    assert set(drawn[labels[drawn] == 1]) == set(range(50, 100))
    one = next(iter(bootstrap_indices(100, 1, seed=0, strata=labels)))
    assert len(set(one)) < 100


def test_stratified_roc_auc_stays_defined_where_a_plain_bootstrap_skips_resamples() -> None:
    rng = np.random.default_rng(5)
    y_true = np.array([1, 1] + [0] * 18)
    scores = rng.uniform(size=20) + 0.3 * y_true

    def auc(indices: np.ndarray) -> float:
        return roc_auc_score(y_true[indices], scores[indices])

    seen = []

    def counted_auc(indices: np.ndarray) -> float:
        seen.append(y_true[indices].sum())
        return auc(indices)

    interval = paired_differences(auc, counted_auc, 20, n_resamples=200, strata=y_true)
    assert interval.n_resamples_used == 200
    assert set(seen) == {2}
    plain = paired_differences(auc, auc, 20, n_resamples=200)
    assert plain.n_resamples_used < 200


def test_paired_differences_of_identical_models_are_exactly_zero() -> None:
    sample = np.random.default_rng(2).normal(size=500)
    interval = paired_differences(_mean_of(sample), _mean_of(sample), 500, n_resamples=300)

    assert (interval.difference_low, interval.difference_high) == (0.0, 0.0)
    assert interval.candidate == interval.baseline
    assert interval.candidate_low < interval.candidate_high
    assert interval.n_resamples_used == 300
    assert interval.confidence == 0.95


def test_paired_differences_against_a_shifted_copy_equal_the_shift() -> None:
    sample = np.random.default_rng(3).normal(size=500)
    shifted = sample + 0.25
    interval = paired_differences(_mean_of(shifted), _mean_of(sample), 500, n_resamples=300)

    assert interval.difference == pytest.approx((0.25, 0.25), abs=1e-12)
    assert interval.candidate_low == pytest.approx(interval.baseline_low + 0.25, abs=1e-12)


def test_pairing_makes_the_difference_interval_narrower_than_each_side() -> None:
    rng = np.random.default_rng(4)
    baseline = rng.normal(size=1000)
    candidate = baseline + rng.normal(scale=0.05, size=1000)
    interval = paired_differences(_mean_of(candidate), _mean_of(baseline), 1000, n_resamples=400)

    difference_width = interval.difference_high - interval.difference_low
    assert difference_width < 0.2 * (interval.candidate_high - interval.candidate_low)
    assert interval.difference_low < candidate.mean() - baseline.mean() < interval.difference_high


def test_paired_bootstrap_serves_several_metrics_from_one_resample_loop() -> None:
    rng = np.random.default_rng(6)
    baseline = rng.normal(size=400)
    candidate = baseline + 0.1
    calls = []

    def summarise(values: np.ndarray):
        def metrics(indices: np.ndarray) -> dict[str, float]:
            calls.append(1)
            return {"mean": values[indices].mean(), "max": values[indices].max()}

        return metrics

    intervals = paired_bootstrap(summarise(candidate), summarise(baseline), 400, n_resamples=100)

    assert set(intervals) == {"mean", "max"}
    assert len(calls) == 200
    assert intervals["mean"].difference == pytest.approx((0.1, 0.1), abs=1e-12)
    assert intervals["max"].difference == pytest.approx((0.1, 0.1), abs=1e-12)
    single = paired_differences(
        lambda i: candidate[i].mean(), lambda i: baseline[i].mean(), 400, n_resamples=100
    )
    assert single == intervals["mean"]
    assert isinstance(single, PairedInterval)
    assert single.to_dict()["n_resamples_used"] == 100


def test_paired_bootstrap_skips_undefined_resamples_per_metric() -> None:
    values = np.arange(100, dtype=float)

    def metrics(indices: np.ndarray) -> dict[str, float]:
        fragile = math.nan if indices[0] % 4 == 0 else values[indices].mean()
        return {"steady": values[indices].mean(), "fragile": fragile}

    intervals = paired_bootstrap(metrics, metrics, 100, n_resamples=200, seed=9)
    assert intervals["steady"].n_resamples_used == 200
    assert 100 < intervals["fragile"].n_resamples_used < 200


def test_paired_bootstrap_refuses_metrics_reported_by_one_side_only() -> None:
    with pytest.raises(InvalidInput, match="same names"):
        paired_bootstrap(lambda i: {"a": 1.0}, lambda i: {"b": 1.0}, 10, n_resamples=5)


def test_paired_bootstrap_refuses_a_metric_that_returns_a_plain_number() -> None:
    with pytest.raises(InvalidInput, match="paired_differences"):
        paired_bootstrap(lambda i: 1.0, lambda i: 1.0, 10, n_resamples=5)


def test_resamples_where_the_metric_is_undefined_are_skipped() -> None:
    values = np.arange(100, dtype=float)

    def sometimes_undefined(indices: np.ndarray) -> float:
        if indices[0] % 4 == 0:
            raise InvalidInput("undefined here")
        if indices[0] % 4 == 1:
            return math.nan
        return values[indices].mean()

    kept = [values[i].mean() for i in bootstrap_indices(100, 400, seed=11) if i[0] % 4 in (2, 3)]
    assert 100 < len(kept) < 300
    low, high = bootstrap_interval(sometimes_undefined, 100, n_resamples=400, seed=11)
    assert (low, high) == pytest.approx(tuple(np.percentile(kept, [2.5, 97.5])), abs=1e-12)


def test_a_metric_undefined_on_most_resamples_is_refused_with_its_name() -> None:
    def contains_row_zero(indices: np.ndarray) -> float:
        # Row 0 appears in about 63% of resamples of 100 rows.
        if 0 in indices:
            raise InvalidInput("undefined")
        return 1.0

    with pytest.raises(InvalidInput, match="contains_row_zero.*undefined.*more than half"):
        bootstrap_interval(contains_row_zero, 100, n_resamples=100)
    with pytest.raises(InvalidInput, match="'?m'?.*more than half"):
        paired_bootstrap(
            lambda i: {"m": math.nan if 0 in i else 1.0},
            lambda i: {"m": 1.0},
            100,
            n_resamples=100,
        )


def test_a_metric_that_always_raises_is_refused() -> None:
    def never(indices: np.ndarray) -> dict[str, float]:
        raise InvalidInput("never defined")

    with pytest.raises(InvalidInput, match="no metric was defined"):
        paired_bootstrap(never, never, 10, n_resamples=5)


def test_other_errors_from_the_metric_propagate() -> None:
    def broken(indices: np.ndarray) -> float:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        bootstrap_interval(broken, 10, n_resamples=5)


@pytest.mark.parametrize("n_resamples", [0, -1, 1.5, True, "10", None])
def test_n_resamples_must_be_a_positive_whole_number(n_resamples: object) -> None:
    with pytest.raises(InvalidInput, match="n_resamples must be a whole number"):
        bootstrap_interval(lambda i: 1.0, 10, n_resamples=n_resamples)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="n_resamples"):
        bootstrap_indices(10, n_resamples)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="n_resamples"):
        paired_differences(lambda i: 1.0, lambda i: 1.0, 10, n_resamples=n_resamples)  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0, 1, 0.0, 1.0, 1.5, -0.1, math.nan, True, "0.95"])
def test_confidence_must_lie_strictly_between_zero_and_one(confidence: object) -> None:
    with pytest.raises(InvalidInput, match="confidence must be a number strictly between 0 and 1"):
        bootstrap_interval(lambda i: 1.0, 10, confidence=confidence)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="confidence"):
        paired_bootstrap(lambda i: {}, lambda i: {}, 10, confidence=confidence)  # type: ignore[arg-type]


def test_n_must_be_at_least_one_and_is_checked_before_iterating() -> None:
    with pytest.raises(InvalidInput, match="n must be a whole number of at least 1, got 0"):
        bootstrap_indices(0, 10)
    assert len(list(bootstrap_indices(np.int64(3), np.int32(2)))) == 2


def test_strata_must_have_one_label_per_row() -> None:
    with pytest.raises(InvalidInput, match=r"one label per row \(10 rows\)"):
        bootstrap_indices(10, 5, strata=np.zeros(9))
    with pytest.raises(InvalidInput, match="one label per row"):
        bootstrap_indices(4, 5, strata=np.zeros((2, 2)))


def test_strata_accept_a_pandas_series() -> None:
    pd = pytest.importorskip("pandas")
    labels = pd.Series(["x", "y", "x", "y", "y"])
    for indices in bootstrap_indices(5, 10, strata=labels):
        assert list(labels.to_numpy()[indices]) == list(labels)
