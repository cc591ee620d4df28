"""The one-pass binary report: every metric and curve equals its individual oracle."""

from __future__ import annotations

import bisect
import math
import tracemalloc

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.evaluate.metrics import (
    binary_classification_report,
    expected_calibration_error,
    lift_gain,
    optimal_threshold,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

TIED = [0.0, 0.1, 0.2, 0.25, 0.5, 0.7, 0.75, 0.9, 1.0]
PROBABILITIES = st.one_of(st.sampled_from(TIED), st.floats(0.0, 1.0, allow_subnormal=False))
WEIGHTS = st.one_of(
    st.integers(0, 40).map(lambda k: k / 8), st.floats(0.0, 10.0, allow_subnormal=False)
)
PROBABILITY_KEYS = {"log_loss", "brier_score", "ece", "mce", "ece_quantile"}
LABEL_KEYS = {
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "false_positive_rate",
    "f1",
    "f2",
    "balanced_accuracy",
    "geometric_mean",
    "matthews_corrcoef",
}


@st.composite
def binary_rows(draw, values=PROBABILITIES, weighted=None, max_size=60):
    """Return (y bool, scores, weights or None) with both classes carrying weight."""
    n = draw(st.integers(2, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pos = draw(st.integers(0, n - 1))
    neg = draw(st.integers(0, n - 2))
    neg = neg + 1 if neg >= pos else neg
    y[pos], y[neg] = True, False
    score = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    if weighted is None:
        weighted = draw(st.booleans())
    weights = None
    if weighted:
        weights = np.array(draw(st.lists(WEIGHTS, min_size=n, max_size=n)))
        weights[pos] = weights[pos] or 1.0
        weights[neg] = weights[neg] or 2.0
    return y, score, weights


def slow_calibration_errors(y, prob, weights, n_bins, strategy):
    """Return (ECE, MCE) with a plain loop: bins by scikit-learn's rule, empty bins skipped."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.percentile(prob, np.linspace(0, 1, n_bins + 1) * 100)
    inner = [float(e) for e in edges[1:-1]]
    weight, prob_sum, positive = [0.0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for i, p in enumerate(prob):
        w = 1.0 if weights is None else float(weights[i])
        b = bisect.bisect_left(inner, float(p))
        weight[b] += w
        prob_sum[b] += w * float(p)
        positive[b] += w * float(y[i])
    gaps = [
        (weight[b], abs(positive[b] / weight[b] - prob_sum[b] / weight[b]))
        for b in range(n_bins)
        if weight[b] > 0
    ]
    total = sum(w for w, _ in gaps)
    return sum(w * g for w, g in gaps) / total, max(g for _, g in gaps)


def sklearn_metrics(y, score, weights, threshold, n_bins=10):
    """Return the report's metrics dict, each entry from its individual oracle."""
    y_int = y.astype(int)
    pred = (score >= threshold).astype(int)
    w = weights
    recall = skm.recall_score(y_int, pred, sample_weight=w, zero_division=0.0)
    specificity = skm.recall_score(y_int, pred, pos_label=0, sample_weight=w, zero_division=0.0)
    (tn, fp), _ = skm.confusion_matrix(y_int, pred, labels=[0, 1], sample_weight=w)
    expected = {
        "accuracy": skm.accuracy_score(y_int, pred, sample_weight=w),
        "precision": skm.precision_score(y_int, pred, sample_weight=w, zero_division=0.0),
        "recall": recall,
        "specificity": specificity,
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "f1": skm.f1_score(y_int, pred, sample_weight=w, zero_division=0.0),
        "f2": skm.fbeta_score(y_int, pred, beta=2.0, sample_weight=w, zero_division=0.0),
        "balanced_accuracy": skm.balanced_accuracy_score(y_int, pred, sample_weight=w),
        "geometric_mean": math.sqrt(recall * specificity),
        "matthews_corrcoef": _sklearn_matthews(y_int, pred, w),
        "roc_auc": skm.roc_auc_score(y_int, score, sample_weight=w),
        "pr_auc": skm.average_precision_score(y_int, score, sample_weight=w),
    }
    if score.min() >= 0 and score.max() <= 1:
        ece, mce = slow_calibration_errors(y, score, w, n_bins, "uniform")
        ece_quantile, _ = slow_calibration_errors(y, score, w, n_bins, "quantile")
        expected |= {
            "log_loss": skm.log_loss(y_int, score, sample_weight=w, labels=[0, 1]),
            "brier_score": skm.brier_score_loss(y_int, score, sample_weight=w),
            "ece": ece,
            "mce": mce,
            "ece_quantile": ece_quantile,
        }
    return expected


def _sklearn_matthews(y_int, pred, w) -> float:
    value = skm.matthews_corrcoef(y_int, pred, sample_weight=w)
    # When the weighted predictions (or labels) have no spread, scikit-learn 1.9 takes the square
    # root of a variance product that rounds to about -1e-17 and answers NaN; the coefficient
    # there is 0, the value scikit-learn itself gives for constant predictions without weights.
    weights = np.ones(len(pred)) if w is None else np.asarray(w, dtype=np.float64)

    def spread(x):
        x = np.asarray(x, dtype=np.float64)
        return np.average((x - np.average(x, weights=weights)) ** 2, weights=weights)

    if math.isnan(value) and min(spread(pred), spread(y_int)) <= 1e-12:
        return 0.0
    return value


@EXAMPLES
@given(binary_rows(), st.sampled_from(TIED))
def test_report_metrics_equal_each_individual_oracle(data, threshold) -> None:
    y, score, w = data
    report = binary_classification_report(
        y, score, sample_weight=w, threshold=threshold, curve_points=None
    )
    expected = sklearn_metrics(y, score, w, threshold)
    assert set(report.metrics) == set(expected)
    assert report.metrics == pytest.approx(expected, abs=ATOL)


@EXAMPLES
@given(binary_rows(values=st.floats(-20.0, 20.0, allow_subnormal=False)))
def test_scores_outside_unit_interval_leave_out_probability_metrics(data) -> None:
    y, score, w = data
    score[0] = 3.5  # surely not a probability
    report = binary_classification_report(y, score, sample_weight=w, curve_points=None)
    assert not PROBABILITY_KEYS & set(report.metrics)
    assert report.calibration is None
    assert report.metrics == pytest.approx(sklearn_metrics(y, score, w, 0.5), abs=ATOL)


@EXAMPLES
@given(binary_rows())
def test_full_curves_equal_sklearn(data) -> None:
    y, score, w = data
    report = binary_classification_report(y, score, sample_weight=w, curve_points=None)
    roc = report.curves["roc"]
    for got, want in zip(
        (roc["fpr"], roc["tpr"], roc["thresholds"]),
        skm.roc_curve(y, score, sample_weight=w, drop_intermediate=True),
        strict=True,
    ):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)
    pr = report.curves["pr"]
    for got, want in zip(
        (pr["precision"], pr["recall"], pr["thresholds"]),
        skm.precision_recall_curve(y, score, sample_weight=w),
        strict=True,
    ):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@EXAMPLES
@given(binary_rows())
def test_report_thresholds_and_lift_equal_the_standalone_functions(data) -> None:
    y, score, w = data
    report = binary_classification_report(y, score, sample_weight=w, cost_matrix=[[0, 1], [4, 0]])
    for key, method in (("youden", "youden"), ("f1", "fbeta"), ("cost", "cost")):
        alone = optimal_threshold(
            y, score, method=method, sample_weight=w, cost_matrix=[[0, 1], [4, 0]]
        )
        assert report.thresholds[key] == alone
    lift = lift_gain(y, score, sample_weight=w)
    np.testing.assert_allclose(report.curves["lift"]["gain"], lift.gain, rtol=0, atol=ATOL)
    np.testing.assert_allclose(report.curves["lift"]["lift"], lift.lift, rtol=0, atol=ATOL)


@EXAMPLES
@given(binary_rows(), st.integers(1, 15))
def test_suite_ece_quantile_equals_the_standalone_quantile_ece(data, n_bins) -> None:
    y, score, w = data
    report = binary_classification_report(y, score, sample_weight=w, n_bins=n_bins)
    assert report.metrics["ece_quantile"] == pytest.approx(
        expected_calibration_error(y, score, n_bins=n_bins, strategy="quantile", sample_weight=w),
        abs=ATOL,
    )
    assert report.metrics["ece"] == pytest.approx(
        expected_calibration_error(y, score, n_bins=n_bins, sample_weight=w), abs=ATOL
    )


def test_beta_names_its_key_and_matches_sklearn() -> None:
    y = np.array([1, 0, 1, 1, 0, 0, 1])
    score = np.array([0.9, 0.6, 0.4, 0.8, 0.1, 0.3, 0.55])
    report = binary_classification_report(y, score, beta=0.5)
    assert report.metrics["f0_5"] == pytest.approx(
        skm.fbeta_score(y, score >= 0.5, beta=0.5), abs=ATOL
    )
    assert "f2" not in report.metrics


@pytest.mark.parametrize("only", [0, 1])
def test_one_class_keeps_label_metrics_and_drops_roc_auc(only) -> None:
    y = np.full(8, only)
    score = np.array([0.1, 0.9, 0.4, 0.6, 0.5, 0.2, 0.8, 0.3])
    report = binary_classification_report(y, score)
    assert "roc_auc" not in report.metrics
    assert "roc" not in report.curves
    assert report.thresholds == {}
    pred = (score >= 0.5).astype(int)
    assert report.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=ATOL)
    assert report.metrics["precision"] == pytest.approx(
        skm.precision_score(y, pred, zero_division=0.0), abs=ATOL
    )
    assert report.metrics["matthews_corrcoef"] == skm.matthews_corrcoef(y, pred)
    assert report.metrics["brier_score"] == pytest.approx(
        skm.brier_score_loss(y, score, labels=[0, 1]), abs=ATOL
    )
    # Average precision needs positives: present with only positives, absent with none.
    assert ("pr_auc" in report.metrics) == bool(only)
    if only:
        assert report.metrics["pr_auc"] == pytest.approx(
            skm.average_precision_score(y, score), abs=ATOL
        )


# --- thinned curves -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_scores():
    rng = np.random.default_rng(7)
    n = 6000
    y = rng.random(n) < 0.35
    # Distinct scores, a block of heavy ties, and zero-weight rows.
    score = np.round(rng.random(n), 6)
    score[:300] = 0.5
    weights = rng.choice([0.0, 0.5, 1.0, 2.0], size=n, p=[0.05, 0.25, 0.5, 0.2])
    return y, score, weights


@pytest.mark.parametrize("weighted", [False, True])
def test_thinned_roc_curve_is_a_subset_of_sklearns_full_curve(many_scores, weighted) -> None:
    y, score, weights = many_scores
    w = weights if weighted else None
    assert np.unique(score).size > 2000
    roc = binary_classification_report(y, score, sample_weight=w).curves["roc"]
    fpr, tpr, thresholds = roc["fpr"], roc["tpr"], roc["thresholds"]
    assert 2 < fpr.size <= 2000 and fpr.size == tpr.size == thresholds.size
    assert (fpr[0], tpr[0], thresholds[0]) == (0.0, 0.0, np.inf)
    assert fpr[-1] == pytest.approx(1.0, abs=ATOL) and tpr[-1] == pytest.approx(1.0, abs=ATOL)
    assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    assert (np.diff(thresholds) < 0).all()
    full_fpr, full_tpr, full_thresholds = skm.roc_curve(
        y, score, sample_weight=w, drop_intermediate=False
    )
    order = np.argsort(full_thresholds)
    at = order[np.searchsorted(full_thresholds, thresholds, sorter=order)]
    np.testing.assert_array_equal(full_thresholds[at], thresholds)
    np.testing.assert_allclose(fpr, full_fpr[at], rtol=0, atol=ATOL)
    np.testing.assert_allclose(tpr, full_tpr[at], rtol=0, atol=ATOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_thinned_pr_curve_is_a_subset_of_sklearns_full_curve(many_scores, weighted) -> None:
    y, score, weights = many_scores
    w = weights if weighted else None
    pr = binary_classification_report(y, score, sample_weight=w).curves["pr"]
    precision, recall, thresholds = pr["precision"], pr["recall"], pr["thresholds"]
    assert 2 < precision.size <= 2000
    assert precision.size == recall.size == thresholds.size + 1
    # Lowest threshold first (every row positive, recall 1), ending at (recall 0, precision 1).
    assert recall[0] == pytest.approx(1.0, abs=ATOL)
    assert (recall[-1], precision[-1]) == (0.0, 1.0)
    assert (np.diff(recall) <= 0).all()
    assert (np.diff(thresholds) > 0).all()
    full_precision, full_recall, full_thresholds = skm.precision_recall_curve(
        y, score, sample_weight=w
    )
    assert thresholds[0] == full_thresholds[0]
    at = np.searchsorted(full_thresholds, thresholds)
    np.testing.assert_array_equal(full_thresholds[at], thresholds)
    np.testing.assert_allclose(precision[:-1], full_precision[at], rtol=0, atol=ATOL)
    np.testing.assert_allclose(recall[:-1], full_recall[at], rtol=0, atol=ATOL)


def test_thinning_keeps_areas_at_full_resolution(many_scores) -> None:
    y, score, weights = many_scores
    report = binary_classification_report(y, score, sample_weight=weights)
    assert report.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, score, sample_weight=weights), abs=ATOL
    )
    assert report.metrics["pr_auc"] == pytest.approx(
        skm.average_precision_score(y, score, sample_weight=weights), abs=ATOL
    )


def test_report_peak_memory_on_a_million_rows_stays_under_five_times_the_input() -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    y = rng.random(n) < 0.3
    score = rng.random(n)
    input_bytes = y.nbytes + score.nbytes
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        report = binary_classification_report(y, score)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "ece_quantile" in report.metrics and "roc_auc" in report.metrics
    assert peak < 5 * input_bytes, f"peak {peak / input_bytes:.2f}x the input"
