"""Multiclass label and probability metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    log_loss,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_ovr_score,
    roc_auc_score,
    top_k_accuracy_score,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.UndefinedMetricWarning", "ignore::UserWarning"
)

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9
NAMES = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])
WEIGHTS = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(0.0, 10.0, allow_subnormal=False)
)


@st.composite
def labelled(draw, max_size=60):
    """Return (y, pred, weights or None, k): int labels in range(k), y holding every class."""
    k = draw(st.integers(3, 5))
    n = draw(st.integers(k, max_size))
    y = np.array(
        list(range(k)) + draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    )
    y = y[np.array(draw(st.permutations(range(n))))]
    pred = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    weights = None
    if draw(st.booleans()):
        weights = np.array(draw(st.lists(WEIGHTS, min_size=n, max_size=n)))
        # The rows holding each class's first occurrence keep weight, so every class counts.
        for c in range(k):
            first = int(np.flatnonzero(y == c)[0])
            weights[first] = weights[first] or 1.0
    return y, pred, weights, k


@st.composite
def probabilities(draw, max_size=60):
    """Return (y, prob matrix with rows summing to 1, weights or None) with frequent ties."""
    y, _, weights, k = draw(labelled(max_size=max_size))
    cells = draw(
        st.lists(
            st.lists(st.integers(0, 4), min_size=k, max_size=k).filter(any),
            min_size=y.size,
            max_size=y.size,
        )
    )
    raw = np.array(cells, dtype=np.float64)
    return y, raw / raw.sum(axis=1, keepdims=True), weights


# --- confusion matrix and label metrics -----------------------------------------------------


@EXAMPLES
@given(labelled(), st.booleans())
def test_confusion_matrix_matches_sklearn(data, as_strings) -> None:
    y, pred, w, _ = data
    if as_strings:
        y, pred = NAMES[y], NAMES[pred]
    np.testing.assert_allclose(
        confusion_matrix(y, pred, sample_weight=w),
        skm.confusion_matrix(y, pred, sample_weight=w),
        rtol=0,
        atol=ATOL,
    )


@EXAMPLES
@given(labelled(), st.data())
def test_confusion_matrix_with_labels_orders_and_drops_like_sklearn(data, draw) -> None:
    y, pred, w, k = data
    # Any order, possibly a class never seen, possibly leaving seen classes out.
    chosen = draw.draw(st.lists(st.integers(0, k), min_size=1, max_size=k + 1, unique=True))
    labels = list(dict.fromkeys([int(y[0]), *chosen]))
    actual = confusion_matrix(y, pred, labels=labels, sample_weight=w)
    expected = skm.confusion_matrix(y, pred, labels=labels, sample_weight=w)
    assert actual.shape == (len(labels), len(labels))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def test_unweighted_confusion_matrix_holds_integers() -> None:
    matrix = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1])
    assert matrix.dtype.kind == "i"
    np.testing.assert_array_equal(matrix, skm.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1]))


AVERAGES = st.sampled_from(["macro", "micro", "weighted", None])


@EXAMPLES
@given(
    labelled(),
    AVERAGES,
    st.sampled_from([0.0, 1.0]),
    st.floats(0.1, 5.0),
    st.booleans(),
    st.data(),
)
def test_precision_recall_fbeta_averages_match_sklearn(
    data, average, zero_division, beta, as_strings, draw
) -> None:
    y, pred, w, k = data
    # None, or any subset of the classes in any order, possibly with one nobody holds: rows
    # of unlisted classes still count as the listed classes' false positives and negatives.
    labels = draw.draw(
        st.none() | st.lists(st.integers(0, k), min_size=1, max_size=k + 1, unique=True)
    )
    if as_strings:
        y, pred = NAMES[y], NAMES[pred]
        labels = None if labels is None else list(NAMES[labels])
    common = {
        "average": average,
        "labels": labels,
        "sample_weight": w,
        "zero_division": zero_division,
    }
    for ours, theirs in (
        (precision_score, skm.precision_score),
        (recall_score, skm.recall_score),
        (f1_score, skm.f1_score),
    ):
        np.testing.assert_allclose(
            ours(y, pred, **common), theirs(y, pred, **common), rtol=0, atol=ATOL
        )
    np.testing.assert_allclose(
        fbeta_score(y, pred, beta=beta, **common),
        skm.fbeta_score(y, pred, beta=beta, **common),
        rtol=0,
        atol=ATOL,
    )


@pytest.mark.parametrize("average", [None, "micro"])
def test_precision_and_recall_with_a_label_subset_count_rows_of_other_classes(average) -> None:
    # Row 0 is a class-2 row predicted as class 0: a false positive for class 0.
    y, pred = [2, 0, 1], [0, 0, 1]
    np.testing.assert_allclose(
        precision_score(y, pred, labels=[0, 1], average=average),
        skm.precision_score(y, pred, labels=[0, 1], average=average),
        rtol=0,
        atol=ATOL,
    )
    # Row 0 is a class-0 row predicted as class 2: a false negative for class 0.
    np.testing.assert_allclose(
        recall_score(pred, y, labels=[0, 1], average=average),
        skm.recall_score(pred, y, labels=[0, 1], average=average),
        rtol=0,
        atol=ATOL,
    )


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_classes_never_predicted_score_zero_division_like_sklearn(zero_division) -> None:
    y, pred = [0, 1, 2, 2], [0, 0, 0, 0]
    np.testing.assert_array_equal(
        precision_score(y, pred, average=None, zero_division=zero_division),
        skm.precision_score(y, pred, average=None, zero_division=zero_division),
    )


def test_unknown_average_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="average must be one of"):
        precision_score([0, 1, 2], [0, 1, 2], average="samples")


@EXAMPLES
@given(labelled(), st.booleans())
def test_accuracy_balanced_accuracy_and_matthews_match_sklearn(data, as_strings) -> None:
    y, pred, w, _ = data
    if as_strings:
        y, pred = NAMES[y], NAMES[pred]
    assert accuracy_score(y, pred, sample_weight=w) == pytest.approx(
        skm.accuracy_score(y, pred, sample_weight=w), abs=ATOL
    )
    assert balanced_accuracy_score(y, pred, sample_weight=w) == pytest.approx(
        skm.balanced_accuracy_score(y, pred, sample_weight=w), abs=ATOL
    )
    assert matthews_corrcoef(y, pred, sample_weight=w) == pytest.approx(
        skm.matthews_corrcoef(y, pred, sample_weight=w), abs=ATOL
    )


def test_matthews_of_constant_predictions_is_zero_like_sklearn() -> None:
    y, pred = [0, 1, 2, 1], [2, 2, 2, 2]
    assert matthews_corrcoef(y, pred) == skm.matthews_corrcoef(y, pred) == 0.0


@EXAMPLES
@given(labelled(), st.data())
def test_cohen_kappa_matches_sklearn(data, draw) -> None:
    y, pred, w, k = data
    labels = None
    if draw.draw(st.booleans()):
        chosen = draw.draw(st.lists(st.integers(0, k), min_size=1, max_size=k + 1, unique=True))
        labels = list(dict.fromkeys([int(y[0]), int(pred[0]), *chosen]))
    actual = cohen_kappa_score(y, pred, labels=labels, sample_weight=w)
    expected = skm.cohen_kappa_score(y, pred, labels=labels, sample_weight=w)
    if math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == pytest.approx(expected, abs=ATOL)


def test_cohen_kappa_with_total_chance_agreement_is_nan_like_sklearn() -> None:
    assert math.isnan(skm.cohen_kappa_score([1, 1, 1], [1, 1, 1]))
    assert math.isnan(cohen_kappa_score([1, 1, 1], [1, 1, 1]))


# --- score-based metrics --------------------------------------------------------------------


@EXAMPLES
@given(probabilities(), st.integers(1, 5))
def test_top_k_accuracy_with_ties_matches_sklearn(data, k) -> None:
    y, prob, w = data
    # Coarse scores: several classes share a score in most rows.
    tied = np.round(prob * 2) / 2
    assert top_k_accuracy_score(y, tied, k=k, sample_weight=w) == pytest.approx(
        skm.top_k_accuracy_score(y, tied, k=k, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(probabilities(), st.integers(1, 3))
def test_top_k_accuracy_with_labels_for_unseen_columns_matches_sklearn(data, k) -> None:
    y, prob, w = data
    # Relabel so the last column's class never occurs in y_true.
    y = np.where(y == prob.shape[1] - 1, 0, y)
    labels = list(range(prob.shape[1]))
    assert top_k_accuracy_score(y, prob, k=k, labels=labels, sample_weight=w) == pytest.approx(
        skm.top_k_accuracy_score(y, prob, k=k, labels=labels, sample_weight=w), abs=ATOL
    )


@EXAMPLES
@given(probabilities(), st.booleans())
def test_two_dimensional_log_loss_matches_sklearn(data, as_strings) -> None:
    y, prob, w = data
    labels = list(range(prob.shape[1]))
    if as_strings:
        y, labels = NAMES[y], list(NAMES[labels])
    assert log_loss(y, prob, sample_weight=w) == pytest.approx(
        skm.log_loss(y, prob, sample_weight=w), abs=ATOL
    )
    assert log_loss(y, prob, labels=labels, sample_weight=w) == pytest.approx(
        skm.log_loss(y, prob, labels=labels, sample_weight=w), abs=ATOL
    )


def test_log_loss_rows_not_summing_to_one_are_rejected_naming_the_row() -> None:
    prob = np.array([[0.2, 0.3, 0.5], [0.3, 0.3, 0.3], [0.1, 0.1, 0.8]])
    with pytest.raises(InvalidInput, match="row 1 sums to"):
        log_loss([0, 1, 2], prob)


def test_log_loss_probabilities_outside_unit_interval_are_rejected() -> None:
    prob = np.array([[1.2, -0.2, 0.0], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])
    with pytest.raises(InvalidInput, match=r"y_prob must be probabilities in \[0, 1\]"):
        log_loss([0, 1, 2], prob)


@EXAMPLES
@given(probabilities(), st.sampled_from(["macro", "weighted"]))
def test_roc_auc_ovr_matches_sklearn(data, average) -> None:
    y, prob, w = data
    assert roc_auc_ovr_score(y, prob, average=average, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(y, prob, multi_class="ovr", average=average, sample_weight=w),
        abs=ATOL,
    )


@EXAMPLES
@given(probabilities())
def test_roc_auc_score_with_a_matrix_delegates_to_macro_ovr(data) -> None:
    y, prob, w = data
    assert roc_auc_score(y, prob, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(y, prob, multi_class="ovr", sample_weight=w), abs=ATOL
    )
    names = NAMES[y]
    assert roc_auc_score(names, prob, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(names, prob, multi_class="ovr", sample_weight=w), abs=ATOL
    )


@pytest.mark.parametrize(
    "function", [roc_auc_score, roc_auc_ovr_score, top_k_accuracy_score, log_loss]
)
def test_score_columns_not_matching_the_classes_are_rejected_naming_labels(function) -> None:
    y = [0, 1, 2, 1]
    prob = np.full((4, 4), 0.25)
    with pytest.raises(InvalidInput, match=r"4 columns but 3 classes.*labels="):
        function(y, prob)


def test_a_label_outside_labels_is_rejected_naming_the_row() -> None:
    prob = np.full((3, 3), 1 / 3)
    with pytest.raises(InvalidInput, match=r"y_true\[2\] = .*7.* is not one of the labels"):
        roc_auc_ovr_score([0, 1, 7], prob, labels=[0, 1, 2])


def test_top_k_rejects_a_non_positive_k() -> None:
    with pytest.raises(InvalidInput, match="k must be a positive integer"):
        top_k_accuracy_score([0, 1, 2], np.eye(3), k=0)
