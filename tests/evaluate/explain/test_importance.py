"""Global importance: permutation importance checked against scikit-learn's own, and each
library's native importance read with the model's feature names."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import inspection
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor

from perennia.errors import InvalidInput
from perennia.evaluate.explain import (
    CannotExplain,
    global_importance,
    native_importance,
    permutation_importance,
)


def assert_same_as_sklearn(ours, theirs):
    # Same seeds, same shuffles, same scores: only floating-point noise may differ.
    assert_allclose(ours.importances, theirs.importances, rtol=1e-10, atol=1e-12)
    assert_allclose(ours.importances_mean, theirs.importances_mean, rtol=1e-10, atol=1e-12)
    assert_allclose(ours.importances_std, theirs.importances_std, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def forest(frame, regression_target):
    return RandomForestRegressor(n_estimators=15, max_depth=5, random_state=0).fit(
        frame.to_numpy(), regression_target
    )


@pytest.fixture(scope="module")
def logistic(frame, binary_target):
    return LogisticRegression().fit(frame, binary_target)


def test_default_metric_on_arrays_matches_sklearn(forest, frame, regression_target):
    X = frame.to_numpy()
    ours = permutation_importance(forest, X, regression_target, n_repeats=4, random_state=7)
    theirs = inspection.permutation_importance(
        forest, X, regression_target, n_repeats=4, random_state=7
    )
    assert_same_as_sklearn(ours, theirs)
    assert ours.metric == "r2" and ours.method == "permutation"
    assert ours.baseline == pytest.approx(forest.score(X, regression_target), abs=1e-12)
    assert ours.feature_names == ["x0", "x1", "x2", "x3"]
    assert ours.top(1)[0][0] == "x0"  # age carries most of the signal


@pytest.mark.parametrize(
    "metric", ["accuracy", "balanced_accuracy", "roc_auc", "neg_log_loss", "neg_brier_score"]
)
def test_classification_metrics_on_a_frame_match_sklearn(metric, logistic, frame, binary_target):
    ours = permutation_importance(logistic, frame, binary_target, metric=metric, random_state=3)
    theirs = inspection.permutation_importance(
        logistic, frame, binary_target, scoring=metric, random_state=3
    )
    assert_same_as_sklearn(ours, theirs)
    assert ours.feature_names == list(frame.columns)


@pytest.mark.parametrize(
    "metric",
    ["r2", "neg_mean_squared_error", "neg_root_mean_squared_error", "neg_mean_absolute_error"],
)
def test_regression_metrics_with_weights_match_sklearn(metric, frame, regression_target):
    model = Ridge().fit(frame, regression_target)
    weights = np.linspace(0.5, 2.0, len(frame))
    ours = permutation_importance(
        model, frame, regression_target, metric=metric, random_state=11, sample_weight=weights
    )
    theirs = inspection.permutation_importance(
        model, frame, regression_target, scoring=metric, random_state=11, sample_weight=weights
    )
    assert_same_as_sklearn(ours, theirs)


@pytest.mark.parametrize("metric", ["roc_auc_ovr", "neg_log_loss", None])
def test_multiclass_metrics_match_sklearn(metric, frame, multiclass_target):
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    model.fit(frame, multiclass_target)
    ours = permutation_importance(model, frame, multiclass_target, metric=metric, random_state=2)
    theirs = inspection.permutation_importance(
        model, frame, multiclass_target, scoring=metric, random_state=2
    )
    assert_same_as_sklearn(ours, theirs)
    assert ours.metric == (metric or "accuracy")


def test_a_random_state_object_is_drawn_from_as_sklearn_draws(forest, frame, regression_target):
    X = frame.to_numpy()
    ours = permutation_importance(
        forest, X, regression_target, random_state=np.random.RandomState(5)
    )
    theirs = inspection.permutation_importance(
        forest, X, regression_target, random_state=np.random.RandomState(5)
    )
    assert_same_as_sklearn(ours, theirs)


def test_a_predict_function_and_a_metric_function_work_like_the_estimator(
    forest, frame, regression_target
):
    def squared_error(y_true, y_pred):
        return float(np.mean((y_true - y_pred) ** 2))

    X = frame.to_numpy()
    ours = permutation_importance(
        forest.predict,
        X,
        regression_target,
        metric=squared_error,
        greater_is_better=False,
        random_state=1,
    )
    theirs = inspection.permutation_importance(
        forest, X, regression_target, scoring="neg_mean_squared_error", random_state=1
    )
    assert_same_as_sklearn(ours, theirs)
    assert ours.metric == "squared_error"


def test_sample_scores_every_call_on_the_same_number_of_rows(forest, frame, regression_target):
    seen = []

    def predict(rows):
        seen.append(len(rows))
        return forest.predict(rows)

    X = frame.to_numpy()
    first = permutation_importance(predict, X, regression_target, sample=60, random_state=4)
    # The baseline and every stacked batch of repeats use the same 60 rows.
    assert seen[0] == 60 and all(n % 60 == 0 for n in seen)
    again = permutation_importance(predict, X, regression_target, sample=0.25, random_state=4)
    assert_allclose(first.importances, again.importances)  # 0.25 of 240 rows is 60 rows
    everything = permutation_importance(forest, X, regression_target, sample=1.0, random_state=4)
    full = permutation_importance(forest, X, regression_target, random_state=4)
    assert_allclose(everything.importances, full.importances)


def test_the_repeats_of_one_feature_are_predicted_in_one_call(forest, frame, regression_target):
    calls = []

    def predict(rows):
        calls.append(len(rows))
        return forest.predict(rows)

    X = frame.to_numpy()
    permutation_importance(predict, X, regression_target, n_repeats=3, random_state=0)
    assert calls == [len(frame)] + [3 * len(frame)] * frame.shape[1]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"metric": "f2"}, "metric must be"),
        ({"n_repeats": 0}, "n_repeats must be a positive integer"),
        ({"sample": 1000}, "sample=1000 exceeds the 240 rows"),
        ({"sample": -0.5}, "sample must be a row count or a fraction"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(
    options, words, forest, frame, regression_target
):
    with pytest.raises(InvalidInput, match=words):
        permutation_importance(forest, frame.to_numpy(), regression_target, **options)


def test_targets_of_another_length_are_refused(forest, frame, regression_target):
    with pytest.raises(InvalidInput, match="y has 10 values for 240 rows"):
        permutation_importance(forest, frame.to_numpy(), regression_target[:10])


def test_a_probability_metric_on_a_model_without_probabilities_is_refused(frame, regression_target):
    model = KNeighborsRegressor().fit(frame, regression_target)
    with pytest.raises(InvalidInput, match="no predict_proba"):
        permutation_importance(model, frame, regression_target > 0, metric="neg_log_loss")


def test_xgboost_native_importance_is_the_boosters_gain_with_zero_for_unused(frame, binary_target):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(frame, binary_target)
    found = native_importance(model)
    gain = model.get_booster().get_score(importance_type="gain")
    assert found.feature_names == list(frame.columns)
    assert found.as_dict() == pytest.approx({name: gain.get(name, 0.0) for name in frame.columns})
    assert found.method == "gain" and found.importances_std is None
    splits = native_importance(model.get_booster(), importance_type="weight")
    assert splits.method == "split"
    weight = model.get_booster().get_score(importance_type="weight")
    assert splits.as_dict() == pytest.approx({n: weight.get(n, 0.0) for n in frame.columns})


@pytest.mark.parametrize("importance_type", ["gain", "split"])
def test_lightgbm_native_importance_reads_the_booster(importance_type, frame, regression_target):
    import lightgbm

    model = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(frame, regression_target)
    found = native_importance(model, importance_type=importance_type)
    expected = model.booster_.feature_importance(importance_type)
    assert found.feature_names == list(frame.columns)
    assert_allclose(found.importances_mean, expected)
    assert found.method == importance_type


def test_sklearn_forests_give_impurity_and_linear_models_the_abs_coef_proxy(
    frame, multiclass_target
):
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, multiclass_target)
    found = native_importance(forest)
    assert found.method == "impurity" and found.feature_names == list(frame.columns)
    assert_allclose(found.importances_mean, forest.feature_importances_)
    linear = LogisticRegression().fit(frame, multiclass_target)
    proxy = native_importance(linear)
    assert proxy.method == "abs_coef"
    assert_allclose(proxy.importances_mean, np.abs(linear.coef_).mean(axis=0))


def test_an_unknown_importance_type_is_refused_naming_the_choices(frame, binary_target):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=2).fit(frame, binary_target)
    with pytest.raises(InvalidInput, match="gain, weight, cover"):
        native_importance(model, importance_type="split")


def test_global_importance_prefers_native_and_falls_back_to_permutation(frame, regression_target):
    import xgboost

    boosted = xgboost.XGBRegressor(n_estimators=5).fit(frame, regression_target)
    assert global_importance(boosted).method == "gain"
    neighbours = KNeighborsRegressor().fit(frame, regression_target)
    found = global_importance(neighbours, frame, regression_target, random_state=0)
    assert found.method == "permutation" and found.top(1)[0][0] == "age"
    with pytest.raises(CannotExplain, match="pass X and y for permutation importance") as caught:
        global_importance(neighbours)
    assert caught.value.http_status == 422
    linear = Ridge().fit(frame, regression_target)
    assert global_importance(linear).method == "abs_coef"  # no targets: only the proxy
    assert global_importance(linear, frame, regression_target).method == "permutation"


def test_importance_serialises_to_plain_json(frame, regression_target):
    import json

    model = Ridge().fit(frame, regression_target)
    found = permutation_importance(model, frame, regression_target.tolist(), n_repeats=2)
    data = json.loads(json.dumps(found.to_dict()))
    assert data["feature_names"] == list(frame.columns)
    assert data["method"] == "permutation" and data["metric"] == "r2"
    assert data["importances_mean"] == pytest.approx(list(found.importances_mean))
