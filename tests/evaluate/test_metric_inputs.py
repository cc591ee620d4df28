"""Input handling across the metric library: containers in, clear InvalidInput errors out."""

from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import sklearn.metrics as skm

import perennia.evaluate.metrics as metrics
from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    average_precision_score,
    binary_classification_report,
    brier_score_loss,
    calibration_curve,
    confusion_matrix,
    expected_calibration_error,
    f1_score,
    lift_gain,
    log_loss,
    matthews_corrcoef,
    maximum_calibration_error,
    mean_absolute_error,
    median_absolute_error,
    optimal_threshold,
    precision_score,
    r2_score,
    roc_auc_ovr_score,
    roc_auc_score,
    roc_curve,
    specificity_score,
)

ATOL = 1e-9
_RNG = np.random.default_rng(11)
N = 40
Y = (_RNG.random(N) < 0.4).astype(np.int64)
Y[:2] = [0, 1]
PROB = np.round(_RNG.random(N), 2)
PRED = (PROB >= 0.5).astype(np.int64)
WEIGHT = np.round(_RNG.random(N) * 3, 1)
WEIGHT[:2] = [1.0, 1.0]
Y3 = np.arange(N) % 3
PRED3 = (np.arange(N) * 7 // 3) % 3
TARGET = np.round(_RNG.normal(size=N) * 5, 2)
ESTIMATE = TARGET + np.round(_RNG.normal(size=N), 2)


def _scalar(value):
    """Reduce a metric's result to something comparable."""
    if hasattr(value, "metrics"):
        return value.metrics
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


# (name, function, y, prediction, accepts sample_weight)
CASES = [
    ("roc_auc", roc_auc_score, Y, PROB, True),
    ("average_precision", average_precision_score, Y, PROB, True),
    ("precision", precision_score, Y, PRED, True),
    ("specificity", specificity_score, Y, PRED, True),
    ("brier", brier_score_loss, Y, PROB, True),
    ("log_loss", log_loss, Y, PROB, True),
    ("ece", expected_calibration_error, Y, PROB, True),
    ("f1_macro", lambda y, p, **k: f1_score(y, p, average="macro", **k), Y3, PRED3, True),
    ("matthews", matthews_corrcoef, Y3, PRED3, True),
    ("confusion", confusion_matrix, Y3, PRED3, True),
    ("r2", r2_score, TARGET, ESTIMATE, True),
    ("median_ae", median_absolute_error, TARGET, ESTIMATE, True),
    ("threshold", optimal_threshold, Y, PROB, True),
    ("lift", lift_gain, Y, PROB, True),
    ("report", lambda y, p, **k: binary_classification_report(y, p, **k), Y, PROB, True),
]
CASE_IDS = [case[0] for case in CASES]

CONTAINERS = {
    "list": lambda a: a.tolist(),
    "pandas": lambda a: pd.Series(a, index=np.arange(a.size) * 3 + 5),
    "polars": pl.Series,
    "pyarrow": pa.array,
    "column": lambda a: a.reshape(-1, 1),
}


@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize(("name", "function", "y", "pred", "weighted"), CASES, ids=CASE_IDS)
def test_lists_pandas_polars_arrow_and_column_vectors_give_the_numpy_result(
    container, name, function, y, pred, weighted
) -> None:
    convert = CONTAINERS[container]
    for kwargs in ({}, {"sample_weight": WEIGHT} if weighted else {}):
        expected = _scalar(function(y, pred, **kwargs))
        converted = {k: convert(v) for k, v in kwargs.items()}
        actual = _scalar(function(convert(y), convert(pred), **converted))
        if isinstance(expected, dict):
            assert actual.keys() == expected.keys()
            for key, value in expected.items():
                if isinstance(value, str):
                    assert actual[key] == value
                else:
                    np.testing.assert_allclose(actual[key], value, rtol=0, atol=ATOL)
        else:
            np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def test_pandas_bool_and_categorical_labels_are_read_as_their_values() -> None:
    y = pd.Series(Y.astype(bool))
    assert roc_auc_score(y, pd.Series(PROB)) == pytest.approx(skm.roc_auc_score(Y, PROB))
    names = pd.Series(np.array(["no", "yes"])[Y], dtype="category")
    assert roc_auc_score(names, PROB, pos_label="yes") == pytest.approx(
        skm.roc_auc_score(Y, PROB), abs=ATOL
    )


# --- errors ---------------------------------------------------------------------------------

BINARY_SCORE_FUNCTIONS = [
    roc_auc_score,
    roc_curve,
    average_precision_score,
    optimal_threshold,
    lift_gain,
    binary_classification_report,
]
PROBABILITY_FUNCTIONS = [
    brier_score_loss,
    log_loss,
    expected_calibration_error,
    maximum_calibration_error,
    calibration_curve,
]
LABEL_FUNCTIONS = [precision_score, specificity_score, f1_score, matthews_corrcoef]
REGRESSION_FUNCTIONS = [r2_score, mean_absolute_error, median_absolute_error]
ALL_FUNCTIONS = (
    BINARY_SCORE_FUNCTIONS + PROBABILITY_FUNCTIONS + LABEL_FUNCTIONS + REGRESSION_FUNCTIONS
)


def _inputs_for(function):
    """Return valid (y, prediction) for a function."""
    if function in LABEL_FUNCTIONS:
        return Y.copy(), PRED.copy()
    if function in REGRESSION_FUNCTIONS:
        return TARGET.copy(), ESTIMATE.copy()
    return Y.copy(), PROB.copy()


def _ids(functions):
    return [f.__name__ for f in functions]


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_empty_input_is_rejected_as_empty(function) -> None:
    with pytest.raises(InvalidInput, match="is empty"):
        function([], [])


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_missing_input_is_rejected_as_missing(function) -> None:
    y, pred = _inputs_for(function)
    with pytest.raises(InvalidInput, match="y_true is missing"):
        function(None, pred)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_nan_in_y_true_is_rejected_naming_the_row(function) -> None:
    y, pred = _inputs_for(function)
    y = y.astype(np.float64)
    y[7] = np.nan
    with pytest.raises(InvalidInput, match=r"y_true holds NaN at row 7"):
        function(y, pred)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_nan_in_the_prediction_is_rejected_naming_the_argument_and_row(function) -> None:
    y, pred = _inputs_for(function)
    pred = pred.astype(np.float64)
    pred[5] = np.nan
    with pytest.raises(InvalidInput, match=r"y_(score|prob|pred) holds NaN at row 5"):
        function(y, pred)


def test_missing_string_label_is_rejected_naming_the_row() -> None:
    y = np.array(["a", "b", None, "a"], dtype=object)
    with pytest.raises(InvalidInput, match="y_true holds a missing label at row 2"):
        confusion_matrix(y, ["a", "b", "a", "a"])


def test_nulls_in_any_container_are_rejected_naming_the_row() -> None:
    with pytest.raises(InvalidInput, match="y_score holds NaN at row 1"):
        roc_auc_score(pl.Series([1, 0, 1]), pl.Series([0.2, None, 0.9]))
    with pytest.raises(InvalidInput, match="y_true holds NaN at row 2"):
        roc_auc_score(pd.Series([1, 0, None], dtype="Int64"), [0.2, 0.4, 0.9])
    with pytest.raises(InvalidInput, match="y_score holds NaN at row 0"):
        roc_auc_score(pa.array([1, 0, 1]), pa.array([None, 0.4, 0.9]))
    with pytest.raises(InvalidInput, match="y_true holds NaN at row 1"):
        roc_auc_score([1, None, 0], [0.2, 0.4, 0.9])


@pytest.mark.parametrize("function", PROBABILITY_FUNCTIONS, ids=_ids(PROBABILITY_FUNCTIONS))
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_probability_is_rejected_naming_the_row(function, bad) -> None:
    y, prob = _inputs_for(function)
    prob[3] = bad
    with pytest.raises(InvalidInput, match="y_prob holds an infinite value at row 3"):
        function(y, prob)


@pytest.mark.parametrize("function", REGRESSION_FUNCTIONS, ids=_ids(REGRESSION_FUNCTIONS))
def test_infinite_regression_value_is_rejected_naming_the_row(function) -> None:
    y, pred = _inputs_for(function)
    y[4] = np.inf
    with pytest.raises(InvalidInput, match="y_true holds an infinite value at row 4"):
        function(y, pred)


def test_infinite_scores_rank_above_every_finite_score() -> None:
    score = PROB.copy()
    score[np.flatnonzero(Y == 1)[:2]] = np.inf
    score[np.flatnonzero(Y == 0)[:2]] = [np.inf, -np.inf]
    finite = np.where(np.isposinf(score), 1e9, np.where(np.isneginf(score), -1e9, score))
    assert roc_auc_score(Y, score) == pytest.approx(skm.roc_auc_score(Y, finite), abs=ATOL)
    assert average_precision_score(Y, score) == pytest.approx(
        skm.average_precision_score(Y, finite), abs=ATOL
    )


@pytest.mark.parametrize("function", PROBABILITY_FUNCTIONS, ids=_ids(PROBABILITY_FUNCTIONS))
@pytest.mark.parametrize("bad", [-0.01, 1.5])
def test_probabilities_outside_unit_interval_are_rejected(function, bad) -> None:
    y, prob = _inputs_for(function)
    prob[6] = bad
    with pytest.raises(InvalidInput, match=r"y_prob must be probabilities in \[0, 1\]"):
        function(y, prob)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_length_mismatch_names_both_arguments(function) -> None:
    y, pred = _inputs_for(function)
    with pytest.raises(
        InvalidInput, match=rf"y_true has {N} rows but y_(score|prob|pred) has {N - 1}"
    ):
        function(y, pred[:-1])


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=_ids(ALL_FUNCTIONS))
def test_bad_sample_weights_are_rejected_naming_the_cause(function) -> None:
    y, pred = _inputs_for(function)
    negative = WEIGHT.copy()
    negative[9] = -1.0
    with pytest.raises(InvalidInput, match=r"sample_weight must be >= 0, found .*-1\.0.* row 9"):
        function(y, pred, sample_weight=negative)
    missing = WEIGHT.copy()
    missing[8] = np.nan
    with pytest.raises(InvalidInput, match="sample_weight holds NaN at row 8"):
        function(y, pred, sample_weight=missing)
    with pytest.raises(InvalidInput, match="sample_weight is zero everywhere"):
        function(y, pred, sample_weight=np.zeros(N))
    with pytest.raises(InvalidInput, match=rf"sample_weight has 3 values but the data has {N}"):
        function(y, pred, sample_weight=[1.0, 2.0, 3.0])


BINARY_FUNCTIONS = BINARY_SCORE_FUNCTIONS + PROBABILITY_FUNCTIONS[:1] + PROBABILITY_FUNCTIONS[2:]


@pytest.mark.parametrize("function", BINARY_FUNCTIONS, ids=_ids(BINARY_FUNCTIONS))
def test_a_third_class_in_a_binary_metric_is_rejected(function) -> None:
    y, prob = _inputs_for(function)
    y[10] = 2
    with pytest.raises(InvalidInput, match=r"y_true must hold two classes.*found also \[0, 2\]"):
        function(y, prob)


def test_a_third_class_in_binary_predictions_is_rejected() -> None:
    pred = PRED.copy()
    pred[3] = 5
    with pytest.raises(InvalidInput, match=r"y_pred must hold two classes"):
        precision_score(Y, pred)


def test_multiclass_labels_in_a_binary_average_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="use the multiclass metrics or set pos_label"):
        f1_score(Y3, PRED3)


def test_string_labels_without_pos_label_ask_for_pos_label() -> None:
    with pytest.raises(InvalidInput, match="none equals pos_label=1"):
        roc_auc_score(["no", "yes", "no"], [0.1, 0.8, 0.3])


def test_messages_show_offending_values_as_plain_numbers() -> None:
    with pytest.raises(InvalidInput) as caught:
        brier_score_loss([0, 1], [0.2, 1.5])
    assert "np.float64" not in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        roc_auc_ovr_score([0, 1, 7], np.full((3, 3), 1 / 3), labels=[0, 1, 2])
    assert "np.int64" not in str(caught.value)


def test_two_dimensional_labels_are_rejected_with_their_shape() -> None:
    with pytest.raises(InvalidInput, match=r"y_true must be one-dimensional.*\(20, 2\)"):
        precision_score(Y.reshape(20, 2), PRED.reshape(20, 2))


def test_probabilities_for_two_classes_need_two_known_labels_for_log_loss() -> None:
    with pytest.raises(InvalidInput, match="pass labels="):
        log_loss([1, 1, 1], [0.2, 0.4, 0.9])
    assert log_loss([1, 1, 1], [0.2, 0.4, 0.9], labels=[0, 1]) == pytest.approx(
        skm.log_loss([1, 1, 1], [0.2, 0.4, 0.9], labels=[0, 1]), abs=ATOL
    )


# --- the public namespace -------------------------------------------------------------------


@pytest.mark.parametrize("name", metrics.__all__)
def test_every_public_name_resolves_to_a_documented_callable(name) -> None:
    home = metrics._HOME[metrics._ALIASES.get(name, name)]
    # A name whose module is missing is a broken promise of the namespace, not a reason to skip.
    assert importlib.util.find_spec(f"perennia.evaluate.metrics.{home}") is not None, (
        f"metrics.{name} is said to live in {home}.py, which does not exist"
    )
    value = getattr(metrics, name)
    assert callable(value)
    doc = inspect.getdoc(value) or ""
    summary = doc.splitlines()[0] if doc else ""
    # A real summary line: not empty and not the signature a dataclass writes by default.
    assert summary.endswith("."), f"{name} needs a one-line docstring summary"
    assert not summary.startswith(f"{name}(")


def test_dir_lists_exactly_the_public_names_and_unknown_names_fail() -> None:
    assert sorted(dir(metrics)) == sorted(metrics.__all__)
    assert len(set(metrics.__all__)) == len(metrics.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        metrics.nonexistent  # noqa: B018


def test_aliases_resolve_to_their_targets() -> None:
    assert metrics.recall is metrics.true_positive_rate
    assert metrics.pr_auc_score is metrics.average_precision_score
    assert metrics.specificity is metrics.specificity_score
