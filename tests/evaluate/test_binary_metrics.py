"""Binary label metrics, probability losses and threshold curves against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    BinaryCounts,
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    false_positive_rate,
    fbeta_score,
    geometric_mean_score,
    log_loss,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    specificity_score,
    true_positive_rate,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.UndefinedMetricWarning", "ignore::UserWarning"
)

EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

# A handful of score values makes ties between rows (and between thresholds) frequent.
TIED_SCORES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
CONTINUOUS_SCORES = st.floats(-50.0, 50.0, allow_nan=False, allow_subnormal=False)
PROBABILITIES = st.one_of(TIED_SCORES, st.floats(0.0, 1.0, allow_subnormal=False))
# Multiples of 1/8 add up exactly (exact ties); arbitrary floats round.
EXACT_WEIGHTS = st.integers(0, 40).map(lambda k: k / 8)
WEIGHTS = st.one_of(EXACT_WEIGHTS, st.floats(0.0, 10.0, allow_subnormal=False))


@st.composite
def binary_rows(draw, values=TIED_SCORES, weighted=None, max_size=60):
    """Return (y bool, values, weights or None) with both classes present (and weighted)."""
    n = draw(st.integers(2, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pos = draw(st.integers(0, n - 1))
    neg = draw(st.integers(0, n - 2))
    neg = neg + 1 if neg >= pos else neg
    y[pos], y[neg] = True, False
    column = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    if weighted is None:
        weighted = draw(st.booleans())
    weights = None
    if weighted:
        weights = np.array(draw(st.lists(WEIGHTS, min_size=n, max_size=n)))
        # Each class keeps some weight, so every metric is defined.
        weights[pos] = weights[pos] or 1.0
        weights[neg] = weights[neg] or 1.5
    return y, column, weights


@st.composite
def labelled_predictions(draw):
    """Return (y, predictions, weights or None) as 0/1 ints."""
    y, _, weights = draw(binary_rows())
    pred = np.array(draw(st.lists(st.booleans(), min_size=y.size, max_size=y.size)))
    return y.astype(int), pred.astype(int), weights


def _sk_specificity(y, pred, weights, pos_label=1, neg_label=0):
    return skm.recall_score(y, pred, pos_label=neg_label, sample_weight=weights, zero_division=0.0)


def _sk_false_positive_rate(y, pred, weights, labels=(0, 1)):
    (tn, fp), _ = skm.confusion_matrix(y, pred, labels=list(labels), sample_weight=weights)
    return fp / (fp + tn) if fp + tn else 0.0


# --- label metrics --------------------------------------------------------------------------


@EXAMPLES
@given(labelled_predictions())
def test_binary_counts_match_sklearn_confusion_matrix(data) -> None:
    y, pred, weights = data
    counts = BinaryCounts.from_labels(y, pred, sample_weight=weights)
    expected = skm.confusion_matrix(y, pred, labels=[0, 1], sample_weight=weights)
    np.testing.assert_allclose(counts.matrix(), expected, rtol=0, atol=ATOL)
    assert counts.total == pytest.approx(len(y) if weights is None else weights.sum(), abs=ATOL)


@EXAMPLES
@given(labelled_predictions(), st.floats(0.1, 5.0))
def test_label_metrics_from_counts_match_sklearn(data, beta) -> None:
    y, pred, w = data
    counts = BinaryCounts.from_labels(y, pred, sample_weight=w)
    sk_recall = skm.recall_score(y, pred, sample_weight=w, zero_division=0.0)
    sk_specificity = _sk_specificity(y, pred, w)
    expected = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0.0),
        "recall": sk_recall,
        "specificity": sk_specificity,
        "false_positive_rate": _sk_false_positive_rate(y, pred, w),
        "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0.0),
        "fbeta": skm.fbeta_score(y, pred, beta=beta, sample_weight=w, zero_division=0.0),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "geometric_mean": math.sqrt(sk_recall * sk_specificity),
        "matthews": skm.matthews_corrcoef(y, pred, sample_weight=w),
    }
    actual = {
        "accuracy": counts.accuracy(),
        "precision": counts.precision(),
        "recall": counts.recall(),
        "specificity": counts.specificity(),
        "false_positive_rate": counts.false_positive_rate(),
        "f1": counts.fbeta(1.0),
        "fbeta": counts.fbeta(beta),
        "balanced_accuracy": counts.balanced_accuracy(),
        "geometric_mean": counts.geometric_mean(),
        "matthews": counts.matthews(),
    }
    assert actual == pytest.approx(expected, abs=ATOL)


@EXAMPLES
@given(labelled_predictions(), st.floats(0.1, 5.0), st.sampled_from([0.0, 1.0]))
def test_binary_average_functions_match_sklearn(data, beta, zero_division) -> None:
    y, pred, w = data
    common = {"sample_weight": w, "zero_division": zero_division}
    assert precision_score(y, pred, **common) == pytest.approx(
        skm.precision_score(y, pred, **common), abs=ATOL
    )
    assert recall_score(y, pred, **common) == pytest.approx(
        skm.recall_score(y, pred, **common), abs=ATOL
    )
    assert f1_score(y, pred, **common) == pytest.approx(skm.f1_score(y, pred, **common), abs=ATOL)
    assert fbeta_score(y, pred, beta=beta, **common) == pytest.approx(
        skm.fbeta_score(y, pred, beta=beta, **common), abs=ATOL
    )
    assert accuracy_score(y, pred, sample_weight=w) == pytest.approx(
        skm.accuracy_score(y, pred, sample_weight=w), abs=ATOL
    )
    assert balanced_accuracy_score(y, pred, sample_weight=w) == pytest.approx(
        skm.balanced_accuracy_score(y, pred, sample_weight=w), abs=ATOL
    )
    assert matthews_corrcoef(y, pred, sample_weight=w) == pytest.approx(
        skm.matthews_corrcoef(y, pred, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(labelled_predictions())
def test_rate_functions_match_sklearn(data) -> None:
    y, pred, w = data
    sk_recall = skm.recall_score(y, pred, sample_weight=w, zero_division=0.0)
    sk_specificity = _sk_specificity(y, pred, w)
    assert true_positive_rate(y, pred, sample_weight=w) == pytest.approx(sk_recall, abs=ATOL)
    assert specificity_score(y, pred, sample_weight=w) == pytest.approx(sk_specificity, abs=ATOL)
    assert false_positive_rate(y, pred, sample_weight=w) == pytest.approx(
        _sk_false_positive_rate(y, pred, w), abs=ATOL
    )
    assert geometric_mean_score(y, pred, sample_weight=w) == pytest.approx(
        math.sqrt(sk_recall * sk_specificity), abs=ATOL
    )


@EXAMPLES
@given(labelled_predictions(), st.floats(0.1, 5.0))
def test_string_labels_with_pos_label_match_sklearn(data, beta) -> None:
    y, pred, w = data
    names = np.array(["cat", "dog"])
    y_s, pred_s = names[y], names[pred]
    for pos, neg in (("dog", "cat"), ("cat", "dog")):
        counts = BinaryCounts.from_labels(y_s, pred_s, pos_label=pos, sample_weight=w)
        expected = skm.confusion_matrix(y_s, pred_s, labels=[neg, pos], sample_weight=w)
        np.testing.assert_allclose(counts.matrix(), expected, rtol=0, atol=ATOL)
        common = {"pos_label": pos, "sample_weight": w, "zero_division": 0.0}
        assert precision_score(y_s, pred_s, **common) == pytest.approx(
            skm.precision_score(y_s, pred_s, **common), abs=ATOL
        )
        assert fbeta_score(y_s, pred_s, beta=beta, **common) == pytest.approx(
            skm.fbeta_score(y_s, pred_s, beta=beta, **common), abs=ATOL
        )
        assert specificity_score(y_s, pred_s, pos_label=pos, sample_weight=w) == pytest.approx(
            skm.recall_score(y_s, pred_s, pos_label=neg, sample_weight=w, zero_division=0.0),
            abs=ATOL,
        )


@EXAMPLES
@given(labelled_predictions())
def test_bool_labels_match_sklearn(data) -> None:
    y, pred, w = data
    y_b, pred_b = y.astype(bool), pred.astype(bool)
    assert precision_score(y_b, pred_b, sample_weight=w) == pytest.approx(
        skm.precision_score(y, pred, sample_weight=w, zero_division=0.0), abs=ATOL
    )
    assert recall_score(y_b, pred_b, sample_weight=w) == pytest.approx(
        skm.recall_score(y, pred, sample_weight=w, zero_division=0.0), abs=ATOL
    )
    assert specificity_score(y_b, pred_b, sample_weight=w) == pytest.approx(
        _sk_specificity(y, pred, w), abs=ATOL
    )
    # pos_label=False makes False the positive class.
    assert recall_score(y_b, pred_b, pos_label=False, sample_weight=w) == pytest.approx(
        _sk_specificity(y, pred, w), abs=ATOL
    )


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_constant_negative_predictions_give_zero_division_like_sklearn(zero_division) -> None:
    y = [1, 0, 1, 0, 0]
    pred = [0, 0, 0, 0, 0]
    assert precision_score(y, pred, zero_division=zero_division) == skm.precision_score(
        y, pred, zero_division=zero_division
    )
    # F1 with no true and no predicted positive: every term is zero.
    y_neg = [0, 0, 0]
    assert f1_score(y_neg, [0, 0, 0], zero_division=zero_division) == skm.f1_score(
        y_neg, [0, 0, 0], zero_division=zero_division
    )


def test_constant_predictions_give_matthews_zero_like_sklearn() -> None:
    y, pred = [1, 0, 1, 0, 0], [1, 1, 1, 1, 1]
    assert matthews_corrcoef(y, pred) == skm.matthews_corrcoef(y, pred) == 0.0
    assert BinaryCounts.from_labels(y, pred).matthews() == 0.0


def test_weighted_counts_are_never_negative() -> None:
    y, pred = [1, 0, 1, 1, 1, 1, 1, 1], [1] * 8
    weights = [0.1] * 6 + [0.2, 1.1]
    counts = BinaryCounts.from_labels(y, pred, sample_weight=weights)
    assert min(counts.tp, counts.fp, counts.fn, counts.tn) >= 0
    # scikit-learn: TN is an empty sum, so specificity is exactly 0.
    assert specificity_score(y, pred, sample_weight=weights) == skm.recall_score(
        y, pred, pos_label=0, sample_weight=weights
    )
    assert geometric_mean_score(y, pred, sample_weight=weights) == 0.0


def test_rates_of_a_class_absent_from_y_true_are_zero_and_geometric_mean_is_zero() -> None:
    y, pred = [1, 1, 1], [1, 0, 1]
    counts = BinaryCounts.from_labels(y, pred)
    assert counts.specificity() == 0.0
    assert counts.false_positive_rate() == 0.0
    assert counts.geometric_mean() == 0.0
    assert counts.balanced_accuracy() == pytest.approx(skm.balanced_accuracy_score(y, pred))


# --- probability losses ---------------------------------------------------------------------


@EXAMPLES
@given(binary_rows(values=PROBABILITIES))
def test_brier_score_matches_sklearn(data) -> None:
    y, prob, w = data
    assert brier_score_loss(y.astype(int), prob, sample_weight=w) == pytest.approx(
        skm.brier_score_loss(y.astype(int), prob, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(binary_rows(values=PROBABILITIES))
def test_brier_score_with_string_labels_matches_sklearn(data) -> None:
    y, prob, w = data
    names = np.array(["no", "yes"])[y.astype(int)]
    assert brier_score_loss(names, prob, pos_label="yes", sample_weight=w) == pytest.approx(
        skm.brier_score_loss(names, prob, pos_label="yes", sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(binary_rows(values=PROBABILITIES))
def test_one_dimensional_log_loss_matches_sklearn(data) -> None:
    y, prob, w = data
    assert log_loss(y.astype(int), prob, sample_weight=w) == pytest.approx(
        skm.log_loss(y.astype(int), prob, sample_weight=w), abs=ATOL
    )
    # String labels: the 1-D probability is that of the greater label, as in scikit-learn.
    names = np.array(["a", "b"])[y.astype(int)]
    assert log_loss(names, prob, sample_weight=w) == pytest.approx(
        skm.log_loss(names, prob, sample_weight=w), abs=ATOL
    )


# --- curves ---------------------------------------------------------------------------------

SCORES = st.one_of(TIED_SCORES, CONTINUOUS_SCORES)


def _assert_arrays_equal(actual, expected) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@EXAMPLES
@given(binary_rows(values=SCORES), st.booleans())
def test_roc_curve_matches_sklearn(data, drop_intermediate) -> None:
    y, score, w = data
    actual = roc_curve(y, score, sample_weight=w, drop_intermediate=drop_intermediate)
    expected = skm.roc_curve(y, score, sample_weight=w, drop_intermediate=drop_intermediate)
    _assert_arrays_equal(actual, expected)


@EXAMPLES
@given(binary_rows(values=SCORES))
def test_roc_auc_matches_sklearn(data) -> None:
    y, score, w = data
    assert roc_auc_score(y, score, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(y, score, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(binary_rows(values=SCORES))
def test_precision_recall_curve_matches_sklearn(data) -> None:
    y, score, w = data
    _assert_arrays_equal(
        precision_recall_curve(y, score, sample_weight=w),
        skm.precision_recall_curve(y, score, sample_weight=w),
    )


@EXAMPLES
@given(binary_rows(values=SCORES))
def test_average_precision_matches_sklearn(data) -> None:
    y, score, w = data
    assert average_precision_score(y, score, sample_weight=w) == pytest.approx(
        skm.average_precision_score(y, score, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(binary_rows(values=SCORES))
def test_curves_with_string_labels_and_pos_label_match_sklearn(data) -> None:
    y, score, w = data
    names = np.array(["ham", "spam"])[y.astype(int)]
    for pos in ("ham", "spam"):
        _assert_arrays_equal(
            roc_curve(names, score, pos_label=pos, sample_weight=w),
            skm.roc_curve(names, score, pos_label=pos, sample_weight=w),
        )
        _assert_arrays_equal(
            precision_recall_curve(names, score, pos_label=pos, sample_weight=w),
            skm.precision_recall_curve(names, score, pos_label=pos, sample_weight=w),
        )
        assert average_precision_score(
            names, score, pos_label=pos, sample_weight=w
        ) == pytest.approx(
            skm.average_precision_score(names, score, pos_label=pos, sample_weight=w), abs=ATOL
        )


@EXAMPLES
@given(binary_rows(values=SCORES, weighted=True))
def test_zero_weight_rows_do_not_change_the_curves(data) -> None:
    y, score, w = data
    keep = w > 0
    _assert_arrays_equal(
        roc_curve(y, score, sample_weight=w, drop_intermediate=False),
        roc_curve(y[keep], score[keep], sample_weight=w[keep], drop_intermediate=False),
    )
    _assert_arrays_equal(
        precision_recall_curve(y, score, sample_weight=w),
        precision_recall_curve(y[keep], score[keep], sample_weight=w[keep]),
    )


@pytest.mark.parametrize("only", [0, 1])
def test_roc_metrics_of_one_class_raise_naming_the_cause(only) -> None:
    y, score = [only] * 4, [0.1, 0.4, 0.35, 0.8]
    with pytest.raises(InvalidInput, match="roc_auc is undefined.*only"):
        roc_auc_score(y, score)
    with pytest.raises(InvalidInput, match="roc_curve is undefined.*only"):
        roc_curve(y, score)


def test_average_precision_without_positives_raises_naming_the_cause() -> None:
    with pytest.raises(InvalidInput, match="no positive row"):
        average_precision_score([0, 0, 0], [0.1, 0.5, 0.9])


def test_average_precision_with_only_positives_is_one_like_sklearn() -> None:
    y, score = [1, 1, 1], [0.1, 0.5, 0.9]
    assert average_precision_score(y, score) == skm.average_precision_score(y, score) == 1.0


def test_roc_of_a_class_with_only_zero_weight_raises() -> None:
    with pytest.raises(InvalidInput, match="roc_auc is undefined"):
        roc_auc_score([1, 0, 1], [0.2, 0.4, 0.9], sample_weight=[1.0, 0.0, 2.0])
