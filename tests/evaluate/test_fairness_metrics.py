"""Group fairness metrics against fairlearn, plus the conventions fairlearn leaves open."""

from __future__ import annotations

import functools
import json
import math

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    FairnessReport,
    accuracy_difference,
    demographic_parity_difference,
    demographic_parity_ratio,
    disparate_impact,
    equal_opportunity_difference,
    equalized_odds_difference,
    error_rate_difference,
    fairness_report,
    group_benefit,
    selection_rate,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.UndefinedMetricWarning", "ignore::RuntimeWarning"
)

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# fairlearn's MetricFrame costs tens of milliseconds a call; fewer examples keep the file quick.
FAIRLEARN_EXAMPLES = settings(EXAMPLES, max_examples=30)
ATOL = 1e-9
# Multiples of 1/8 keep weighted sums exact; no zero so every group has weight.
WEIGHTS = st.integers(1, 40).map(lambda k: k / 8)


@st.composite
def fairness_rows(draw, both_classes=False, max_size=40):
    """Return (y, pred, features DataFrame, weights or None); two features half the time."""
    n = draw(st.integers(1, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pred = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    columns = {
        "colour": draw(st.lists(st.sampled_from(["red", "blue", "green"]), min_size=n, max_size=n))
    }
    if draw(st.booleans()):
        columns["age"] = draw(st.lists(st.sampled_from([20, 40]), min_size=n, max_size=n))
    features = pd.DataFrame(columns)
    if both_classes:
        # Every group present gets one more actual positive and one more actual negative.
        extra = features.drop_duplicates()
        more = 2 * len(extra)
        features = pd.concat([features, extra, extra], ignore_index=True)
        y = np.concatenate([y, np.ones(len(extra), bool), np.zeros(len(extra), bool)])
        pred = np.concatenate([pred, draw(st.lists(st.booleans(), min_size=more, max_size=more))])
    size = len(y)
    weights = None
    if draw(st.booleans()):
        weights = np.array(draw(st.lists(WEIGHTS, min_size=size, max_size=size)))
    return y.astype(int), pred.astype(int), features, weights


def _label(key):
    return "|".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


def _fairlearn_by_group(y, pred, features, weights):
    """Return fairlearn's per-group table keyed by our group labels."""
    metrics = {
        "selection_rate": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "precision": functools.partial(skm.precision_score, zero_division=0),
        "accuracy": skm.accuracy_score,
        "positives": lambda y_true, y_pred, sample_weight=None: float(
            np.dot(y_true, np.ones(len(y_true)) if sample_weight is None else sample_weight)
        ),
    }
    params = None if weights is None else {name: {"sample_weight": weights} for name in metrics}
    frame = flm.MetricFrame(
        metrics=metrics, y_true=y, y_pred=pred, sensitive_features=features, sample_params=params
    )
    # With several features fairlearn lists every combination; absent ones are all NaN.
    return {
        _label(key): row
        for key, row in frame.by_group.iterrows()
        if not math.isnan(row["selection_rate"])
    }


def _nan_equal(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=ATOL)


@FAIRLEARN_EXAMPLES
@given(fairness_rows())
def test_group_table_matches_fairlearn_metric_frame(case):
    y, pred, features, weights = case
    report = fairness_report(y, pred, sensitive_features=features, sample_weight=weights)
    expected = _fairlearn_by_group(y, pred, features, weights)
    assert [group["group"] for group in report.groups] == list(expected)
    for group in report.groups:
        oracle = expected[group["group"]]
        assert group["selection_rate"] == pytest.approx(oracle["selection_rate"], abs=ATOL)
        assert group["accuracy"] == pytest.approx(oracle["accuracy"], abs=ATOL)
        assert group["error_rate"] == pytest.approx(1 - oracle["accuracy"], abs=ATOL)
        assert group["positives"] == pytest.approx(oracle["positives"], abs=ATOL)
        # fairlearn reports an undefined rate as 0; here it is NaN.
        for key in ("tpr", "fpr", "precision"):
            value = group[key]
            assert (math.isnan(value) and oracle[key] == 0) or value == pytest.approx(
                oracle[key], abs=ATOL
            )
        assert math.isnan(group["tpr"]) == (group["positives"] == 0)
        assert math.isnan(group["precision"]) == (group["predicted_positives"] == 0)


@FAIRLEARN_EXAMPLES
@given(fairness_rows())
def test_demographic_parity_matches_fairlearn(case):
    y, pred, features, weights = case
    kwargs = {"sensitive_features": features, "sample_weight": weights}
    difference = demographic_parity_difference(y, pred, **kwargs)
    assert difference == pytest.approx(
        flm.demographic_parity_difference(y, pred, **kwargs), abs=ATOL
    )
    if len(features.drop_duplicates()) > 1:
        ratio = demographic_parity_ratio(y, pred, **kwargs)
        assert _nan_equal(ratio, flm.demographic_parity_ratio(y, pred, **kwargs))


@FAIRLEARN_EXAMPLES
@given(fairness_rows(both_classes=True))
def test_error_rate_disparities_match_fairlearn_when_every_group_has_both_classes(case):
    y, pred, features, weights = case
    kwargs = {"sensitive_features": features, "sample_weight": weights}
    pairs = [
        (equal_opportunity_difference, flm.equal_opportunity_difference),
        (equalized_odds_difference, flm.equalized_odds_difference),
        (accuracy_difference, flm.accuracy_score_difference),
        (error_rate_difference, flm.zero_one_loss_difference),
    ]
    for ours, theirs in pairs:
        assert ours(y, pred, **kwargs) == pytest.approx(theirs(y, pred, **kwargs), abs=ATOL)


@FAIRLEARN_EXAMPLES
@given(fairness_rows())
def test_undefined_group_rates_are_skipped_by_the_differences(case):
    y, pred, features, weights = case
    expected = _fairlearn_by_group(y, pred, features, weights)
    report = fairness_report(y, pred, sensitive_features=features, sample_weight=weights)
    defined = [row for row in report.groups if not math.isnan(row["tpr"])]
    if len(expected) == 1:
        want = 0.0 if defined else math.nan
    elif len(defined) < 2:
        want = math.nan
    else:
        rates = [expected[row["group"]]["tpr"] for row in defined]
        want = max(rates) - min(rates)
    got = equal_opportunity_difference(y, pred, sensitive_features=features, sample_weight=weights)
    assert _nan_equal(got, want)
    assert _nan_equal(report.disparities["equal_opportunity_difference"]["value"], want)


@FAIRLEARN_EXAMPLES
@given(fairness_rows(), st.data())
def test_disparate_impact_divides_the_lowest_other_group_by_the_reference(case, data):
    y, pred, features, weights = case
    expected = _fairlearn_by_group(y, pred, features, weights)
    kwargs = {"sensitive_features": features, "sample_weight": weights}
    if len(expected) > 1:
        default = disparate_impact(y, pred, **kwargs)
        assert _nan_equal(default, flm.demographic_parity_ratio(y, pred, **kwargs))
    reference = data.draw(st.sampled_from(sorted(expected)))
    others = [row["selection_rate"] for name, row in expected.items() if name != reference]
    base = expected[reference]["selection_rate"]
    if not others:
        want = 1.0
    elif base == 0:
        want = math.nan
    else:
        want = min(others) / base
    got = disparate_impact(y, pred, reference_group=reference, **kwargs)
    assert _nan_equal(got, want)
    report = fairness_report(y, pred, reference_group=reference, **kwargs)
    assert report.reference_group == reference
    flagged = sorted(
        name
        for name, row in expected.items()
        if name != reference and base > 0 and row["selection_rate"] / base < 0.8
    )
    assert report.four_fifths_violations == flagged
    assert report.metrics()["four_fifths_rule_passed"] == (0.0 if flagged else 1.0)


@EXAMPLES
@given(fairness_rows())
def test_plain_functions_agree_with_the_report(case):
    y, pred, features, weights = case
    kwargs = {"sensitive_features": features, "sample_weight": weights}
    metrics = fairness_report(y, pred, **kwargs).metrics()
    functions = [
        disparate_impact,
        demographic_parity_difference,
        demographic_parity_ratio,
        equal_opportunity_difference,
        equalized_odds_difference,
        accuracy_difference,
        error_rate_difference,
    ]
    for function in functions:
        assert _nan_equal(function(y, pred, **kwargs), metrics[function.__name__])


@EXAMPLES
@given(fairness_rows())
def test_selection_rate_matches_fairlearn(case):
    y, pred, _, weights = case
    got = selection_rate(y, pred, sample_weight=weights)
    assert got == pytest.approx(flm.selection_rate(y, pred, sample_weight=weights), abs=ATOL)


def _four_fifths_case():
    # Group a is selected at 1.0, b at 0.79 (under 0.8 x a), c at exactly 0.8 x a.
    pred = [1] * 10 + [1] * 79 + [0] * 21 + [1] * 8 + [0] * 2
    groups = ["a"] * 10 + ["b"] * 100 + ["c"] * 10
    return np.ones(len(pred), int), np.array(pred), np.array(groups)


def test_four_fifths_rule_flags_groups_selected_under_80_percent_of_the_reference():
    y, pred, groups = _four_fifths_case()
    report = fairness_report(y, pred, sensitive_features=groups)
    assert report.reference_group == "a"
    assert report.four_fifths_violations == ["b"]
    assert report.metrics()["four_fifths_rule_passed"] == 0.0
    impact = report.disparities["disparate_impact"]
    assert impact == {
        "value": pytest.approx(0.79),
        "reference_group": "a",
        "worst_group": "b",
        "description": impact["description"],
    }
    assert impact["description"].endswith(".") and "\n" not in impact["description"]


def test_disparities_name_the_best_and_worst_groups():
    y, pred, groups = _four_fifths_case()
    errors = fairness_report(y, pred, sensitive_features=groups).disparities
    assert errors["error_rate_difference"]["reference_group"] == "a"
    assert errors["error_rate_difference"]["worst_group"] == "b"
    assert errors["demographic_parity_difference"]["value"] == pytest.approx(0.21)


def test_custom_reference_group_changes_the_comparison():
    y, pred, groups = _four_fifths_case()
    report = fairness_report(y, pred, sensitive_features=groups, reference_group="c")
    assert report.reference_group == "c"
    assert report.four_fifths_violations == []
    assert report.disparities["disparate_impact"]["value"] == pytest.approx(0.79 / 0.8)


def test_unknown_reference_group_is_refused_naming_the_groups():
    y, pred, groups = _four_fifths_case()
    with pytest.raises(
        InvalidInput, match=r"reference_group 'z' is not one of the groups \('a', 'b', 'c'\)"
    ):
        fairness_report(y, pred, sensitive_features=groups, reference_group="z")


def test_reference_group_of_an_intersection_may_be_a_tuple():
    features = {"sex": ["f", "m", "f", "m"], "age": [1, 1, 2, 2]}
    report = fairness_report(
        [1, 1, 0, 0], [1, 0, 1, 0], sensitive_features=features, reference_group=("m", 2)
    )
    assert report.reference_group == "m|2"
    assert report.features == ("sex", "age")
    assert [group["group"] for group in report.groups] == ["f|1", "f|2", "m|1", "m|2"]


@pytest.mark.parametrize(
    "features, names",
    [
        (pd.DataFrame({"sex": list("fmfm"), "age": [1, 1, 2, 2]}), ("sex", "age")),
        ({"sex": list("fmfm"), "age": np.array([1, 1, 2, 2])}, ("sex", "age")),
        (
            np.array([list("fmfm"), ["1", "1", "2", "2"]], dtype=object).T,
            ("feature_0", "feature_1"),
        ),
        ([list("fmfm"), pd.Series([1, 1, 2, 2], name="age")], ("feature_0", "age")),
    ],
)
def test_every_way_of_passing_two_features_gives_the_same_intersections(features, names):
    report = fairness_report([1, 0, 1, 0], [1, 0, 0, 1], sensitive_features=features)
    assert report.features == names
    assert [group["group"] for group in report.groups] == ["f|1", "f|2", "m|1", "m|2"]


@pytest.mark.parametrize(
    "features, name",
    [
        (list("fmfm"), "feature_0"),
        (pd.Series(list("fmfm"), name="sex"), "sex"),
        (np.array(list("fmfm")), "feature_0"),
    ],
)
def test_one_feature_may_be_a_list_array_or_series(features, name):
    report = fairness_report([1, 0, 1, 0], [1, 0, 0, 1], sensitive_features=features)
    assert report.features == (name,)
    assert [group["group"] for group in report.groups] == ["f", "m"]


def test_missing_sensitive_values_form_their_own_group():
    features = pd.DataFrame({"sex": ["f", None, "m", np.nan], "age": [1.0, 1.0, np.nan, 1.0]})
    report = fairness_report([1, 0, 1, 0], [1, 0, 0, 1], sensitive_features=features)
    labels = [group["group"] for group in report.groups]
    assert labels == ["f|1.0", "m|missing", "missing|1.0"]
    assert report.groups[2]["count"] == 2


def test_values_printing_alike_are_one_group():
    rates = group_benefit(
        [1, 1, 1], [1, 0, 1], sensitive_features=np.array([1, "1", 2], dtype=object)
    )
    assert list(rates) == ["1", "2"]


def test_a_single_group_has_no_disparity():
    metrics = fairness_report([1, 0, 1], [0, 0, 0], sensitive_features=["x", "x", "x"]).metrics()
    assert metrics["demographic_parity_difference"] == 0.0
    assert metrics["demographic_parity_ratio"] == 1.0
    assert metrics["disparate_impact"] == 1.0
    assert metrics["equalized_odds_difference"] == 0.0
    assert metrics["four_fifths_rule_passed"] == 1.0


def test_difference_is_nan_when_fewer_than_two_groups_define_the_rate():
    # Group b has no actual positives, so only a defines a true positive rate.
    value = equal_opportunity_difference(
        [1, 0, 0, 0], [1, 0, 1, 0], sensitive_features=list("aabb")
    )
    assert math.isnan(value)


def test_benefit_is_inf_or_one_for_groups_without_actual_positives():
    benefit = group_benefit(
        [1, 1, 0, 0, 0, 0],
        [1, 0, 1, 0, 0, 0],
        sensitive_features=list("aabbcc"),
        sample_weight=[1, 3, 1, 1, 1, 1],
    )
    assert benefit == {"a": 0.25, "b": math.inf, "c": 1.0}


def test_report_to_dict_is_plain_json_ready_data():
    y, pred, groups = _four_fifths_case()
    report = fairness_report(y, pred, sensitive_features=groups)
    assert isinstance(report, FairnessReport)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == json.loads(json.dumps(data))
    assert set(data) == {
        "features",
        "reference_group",
        "groups",
        "disparities",
        "four_fifths_violations",
    }
    assert set(data["groups"][0]) == {
        "group",
        "count",
        "weight",
        "selection_rate",
        "tpr",
        "fpr",
        "precision",
        "accuracy",
        "error_rate",
        "benefit",
        "positives",
        "predicted_positives",
    }
    plain = (str, int, float, list, dict, type(None))

    def check(value):
        assert type(value) in plain, type(value)
        if isinstance(value, dict):
            list(map(check, value.values()))
        elif isinstance(value, list):
            list(map(check, value))

    check(data)
    assert set(report.metrics()) == set(data["disparities"]) | {"four_fifths_rule_passed"}


def test_string_labels_use_pos_label():
    got = selection_rate(None, ["yes", "no", "yes", "yes"], pos_label="yes")
    assert got == 0.75
    value = demographic_parity_difference(
        None, ["yes", "no", "yes", "yes"], sensitive_features=list("aabb"), pos_label="yes"
    )
    assert value == 0.5


def test_length_mismatches_are_refused():
    with pytest.raises(InvalidInput, match="y_true has 3 rows but y_pred has 2"):
        accuracy_difference([1, 0, 1], [1, 0], sensitive_features=list("ab"))
    with pytest.raises(
        InvalidInput, match="sensitive feature 'feature_0' has 3 rows but y_pred has 2"
    ):
        accuracy_difference([1, 0], [1, 0], sensitive_features=list("abc"))
    with pytest.raises(InvalidInput, match="sample_weight has 1 values"):
        accuracy_difference([1, 0], [1, 0], sensitive_features=list("ab"), sample_weight=[1.0])


def test_non_binary_predictions_are_refused():
    with pytest.raises(InvalidInput, match="y_pred must hold two classes"):
        demographic_parity_difference(None, [0, 1, 2], sensitive_features=list("abc"))


def test_missing_sensitive_features_are_refused():
    with pytest.raises(InvalidInput, match="sensitive_features is missing"):
        fairness_report([1, 0], [1, 0], sensitive_features=None)
    with pytest.raises(InvalidInput, match="holds no feature"):
        fairness_report([1, 0], [1, 0], sensitive_features={})


def test_groups_are_listed_in_value_order_with_missing_last():
    features = pd.Series([10.0, np.nan, 9.0, 10.0, 100.0], name="age")
    report = fairness_report([1, 0, 1, 0, 1], [1, 0, 0, 1, 1], sensitive_features=features)
    assert [group["group"] for group in report.groups] == ["9.0", "10.0", "100.0", "missing"]
    assert [group["count"] for group in report.groups] == [1, 2, 1, 1]
