"""Per-prediction attributions: exact TreeSHAP from XGBoost and LightGBM, shap for the rest,
occlusion without shap. SHAP values must add up (values + base == the explained output), and
the boosters' own TreeSHAP must equal shap's TreeExplainer."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from perennia.errors import InvalidInput
from perennia.evaluate.explain import CannotExplain, attributions, method_for

ROWS = 40  # rows explained per test: enough to be a check, few enough to stay fast


@pytest.fixture(scope="module")
def xgb_binary(frame, binary_target):
    import xgboost

    return xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(frame, binary_target)


@pytest.fixture(scope="module")
def lgb_multiclass(frame, multiclass_target):
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1).fit(
        frame, multiclass_target
    )


def test_xgboost_treeshap_adds_up_to_the_margin_and_equals_shap(xgb_binary, frame):
    import shap

    rows = frame.iloc[:ROWS]
    found = attributions(xgb_binary, rows)
    assert found.method == "xgboost_treeshap" and found.output == "margin"
    assert found.values.shape == (ROWS, 4) and found.base_values.shape == (ROWS,)
    assert found.feature_names == list(frame.columns)
    assert_allclose(found.totals(), xgb_binary.predict(rows, output_margin=True), atol=1e-5)
    oracle = shap.TreeExplainer(xgb_binary)(rows)
    assert_allclose(found.values, oracle.values, atol=1e-5)
    assert_allclose(found.base_values, oracle.base_values, atol=1e-5)


def test_xgboost_multiclass_gives_one_slice_per_class(frame, multiclass_target):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=6, max_depth=3).fit(frame, multiclass_target)
    rows = frame.iloc[:ROWS]
    found = attributions(model, rows)
    assert found.values.shape == (ROWS, 4, 3) and found.base_values.shape == (ROWS, 3)
    assert found.classes == [0, 1, 2]
    assert_allclose(found.totals(), model.predict(rows, output_margin=True), atol=1e-5)


def test_a_raw_xgboost_booster_on_arrays(frame, regression_target):
    import xgboost

    X = frame.to_numpy()
    booster = xgboost.train(
        {"max_depth": 3}, xgboost.DMatrix(X, label=regression_target), num_boost_round=6
    )
    found = attributions(booster, X[:ROWS])
    assert found.feature_names == ["x0", "x1", "x2", "x3"]
    margin = booster.predict(xgboost.DMatrix(X[:ROWS]), output_margin=True)
    assert_allclose(found.totals(), margin, atol=1e-5)


def test_xgboost_takes_the_models_columns_from_a_wider_shuffled_frame(xgb_binary, frame):
    rows = frame.iloc[:ROWS]
    wider = rows.assign(extra=1.0)[["extra", "noise", "tenure", "age", "income"]]
    found = attributions(xgb_binary, wider)
    assert found.feature_names == list(frame.columns)
    assert_allclose(found.values, attributions(xgb_binary, rows).values)


def test_lightgbm_treeshap_adds_up_per_class_and_equals_shap(lgb_multiclass, frame):
    import shap

    rows = frame.iloc[:ROWS]
    found = attributions(lgb_multiclass, rows)
    assert found.method == "lightgbm_treeshap" and found.output == "margin"
    assert found.values.shape == (ROWS, 4, 3) and found.classes == [0, 1, 2]
    assert_allclose(found.totals(), lgb_multiclass.predict(rows, raw_score=True), atol=1e-5)
    oracle = shap.TreeExplainer(lgb_multiclass)(rows)
    assert_allclose(found.values, oracle.values, atol=1e-5)


def test_lightgbm_binary_adds_up_to_the_raw_score(frame, binary_target):
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(frame, binary_target)
    rows = frame.iloc[:ROWS]
    found = attributions(model, rows)
    assert found.values.shape == (ROWS, 4) and found.classes is None
    assert_allclose(found.totals(), model.predict(rows, raw_score=True), atol=1e-5)


@pytest.mark.parametrize(
    ("model", "output", "explained"),
    [
        (RandomForestClassifier(8, max_depth=4, random_state=0), "probability", "proba"),
        (GradientBoostingClassifier(n_estimators=8, random_state=0), "margin", "decision"),
        (RandomForestRegressor(8, max_depth=4, random_state=0), "prediction", "predict"),
    ],
    ids=["forest", "boosting", "regressor"],
)
def test_sklearn_trees_go_through_shaps_tree_explainer(
    model, output, explained, frame, binary_target, regression_target
):
    target = regression_target if explained == "predict" else binary_target
    model.fit(frame, target)
    rows = frame.iloc[:ROWS]
    found = attributions(model, rows)
    assert found.method == "shap_tree" and found.output == output
    assert found.values.shape == (ROWS, 4)  # a binary classifier: the positive class alone
    expected = {
        "proba": lambda: model.predict_proba(rows)[:, 1],
        "decision": lambda: model.decision_function(rows),
        "predict": lambda: model.predict(rows),
    }[explained]()
    assert_allclose(found.totals(), expected, atol=1e-8)


def test_linear_models_get_exact_linear_shap_equal_to_shaps(frame, binary_target):
    import shap

    model = LogisticRegression().fit(frame, binary_target)
    # Under 100 rows: shap's masker would otherwise sample 100 of them for its mean.
    rows, background = frame.iloc[:ROWS], frame.iloc[150:]
    found = attributions(model, rows, background=background)
    assert found.method == "linear" and found.output == "margin"
    oracle = shap.LinearExplainer(model, background)(rows)
    assert_allclose(found.values, oracle.values, atol=1e-10)
    assert_allclose(found.base_values, oracle.base_values, atol=1e-10)
    assert_allclose(found.totals(), model.decision_function(rows), atol=1e-10)


def test_multiclass_and_regression_linear_models(frame, multiclass_target, regression_target):
    classifier = LogisticRegression().fit(frame, multiclass_target)
    found = attributions(classifier, frame.iloc[:ROWS])
    assert found.values.shape == (ROWS, 4, 3) and found.classes == [0, 1, 2]
    assert_allclose(found.totals(), classifier.decision_function(frame.iloc[:ROWS]), atol=1e-10)
    regressor = Ridge().fit(frame, regression_target)
    found = attributions(regressor, frame.iloc[:ROWS])
    assert found.output == "prediction" and found.values.shape == (ROWS, 4)
    assert_allclose(found.totals(), regressor.predict(frame.iloc[:ROWS]), atol=1e-10)
    # Against its own rows as background, the base is the mean prediction.
    assert_allclose(found.base_values, regressor.predict(frame.iloc[:ROWS]).mean())


def test_other_models_get_exact_shap_against_the_background(frame, regression_target):
    X = frame.to_numpy()
    model = KNeighborsRegressor().fit(X, regression_target)
    background = X[200:]  # 40 rows: under the sample limit, so all of them count
    found = attributions(model, X[:10], background=background)
    assert found.method == "shap_kernel" and found.output == "prediction"
    assert_allclose(found.totals(), model.predict(X[:10]), atol=1e-9)
    assert_allclose(found.base_values, model.predict(background).mean(), atol=1e-9)


def test_a_pipeline_with_a_text_column_is_explained_in_its_own_columns(frame, binary_target):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = frame.assign(colour=np.where(frame["noise"] > 0, "red", "blue"))
    data["colour"] = data["colour"].astype(object)
    data = data.drop(columns="noise")
    prepare = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income", "tenure"]),
            ("cat", OneHotEncoder(), ["colour"]),
        ]
    )
    model = Pipeline([("prepare", prepare), ("model", LogisticRegression())]).fit(
        data, binary_target
    )
    rows = data.iloc[:10]
    found = attributions(model, rows, background=data.iloc[200:])
    assert found.method == "shap_kernel" and found.output == "probability"
    assert found.feature_names == ["age", "income", "tenure", "colour"]
    assert_allclose(found.totals(), model.predict_proba(rows)[:, 1], atol=1e-9)


def test_a_multiclass_model_agnostic_explanation_has_a_class_axis(frame, multiclass_target):
    model = KNeighborsClassifier().fit(frame, multiclass_target)
    rows = frame.iloc[:8]
    found = attributions(model, rows, background=frame.iloc[200:])
    assert found.values.shape == (8, 4, 3) and found.classes == [0, 1, 2]
    assert_allclose(found.totals(), model.predict_proba(rows), atol=1e-9)


@pytest.mark.slow  # numba compiles shap's permutation explainer on first use (5-10 s)
def test_many_features_use_sampled_permutations_that_still_add_up():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 12))
    model = KNeighborsRegressor().fit(X, X[:, 0] + X[:, 1] * X[:, 2])
    found = attributions(model, X[:4], background=X[40:], max_background=20)
    assert found.method == "shap_permutation"
    assert_allclose(found.totals(), model.predict(X[:4]), atol=1e-9)


def test_the_background_is_sampled_down_to_max_background(frame, regression_target):
    X = frame.to_numpy()
    model = KNeighborsRegressor().fit(X, regression_target)
    few = attributions(model, X[:3], background=X, max_background=5, random_state=1)
    again = attributions(model, X[:3], background=X, max_background=5, random_state=1)
    assert_allclose(few.values, again.values)
    # The base is the mean output over the five rows drawn (default_rng(random_state)).
    drawn = np.sort(np.random.default_rng(1).choice(len(X), 5, replace=False))
    assert_allclose(few.base_values, model.predict(X[drawn]).mean())
    assert_allclose(few.totals(), model.predict(X[:3]), atol=1e-9)


def test_kernel_shap_gives_the_exact_shapley_values_of_a_linear_function(frame):
    X = frame.to_numpy()
    weights = np.array([2.0, -1.0, 0.5, 0.0])
    found = attributions(lambda rows: rows @ weights, X[:5], background=X[200:])
    # For independent features the Shapley value of w.x is w_j (x_j - mean_j).
    assert_allclose(found.values, weights * (X[:5] - X[200:].mean(axis=0)), atol=1e-10)


def test_occlusion_is_the_change_when_one_feature_takes_its_reference_value(
    frame, regression_target
):
    model = KNeighborsRegressor().fit(frame, regression_target)
    rows = frame.iloc[:6]
    found = attributions(model, rows, method="occlusion")
    assert found.method == "occlusion" and not found.additive
    reference = rows.mean()  # float columns: the background's mean (here the rows themselves)
    for j, name in enumerate(frame.columns):
        occluded = rows.assign(**{name: reference[name]})
        assert_allclose(found.values[:, j], model.predict(rows) - model.predict(occluded))
    assert_allclose(found.base_values, model.predict(reference.to_frame().T)[0])


def test_without_shap_other_models_fall_back_to_occlusion(monkeypatch, frame, regression_target):
    monkeypatch.setitem(sys.modules, "shap", None)  # `import shap` now raises ImportError
    model = KNeighborsRegressor().fit(frame, regression_target)
    assert method_for(model) == "occlusion"
    assert attributions(model, frame.iloc[:3]).method == "occlusion"
    with pytest.raises(CannotExplain, match="pip install shap"):
        attributions(model, frame.iloc[:3], method="shap")


def test_occlusion_keeps_text_columns_and_takes_their_most_frequent_value():
    data = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "colour": ["red", "red", "blue", "red"]})

    def predict(rows):
        return rows["size"].to_numpy() * np.where(rows["colour"] == "red", 2.0, 1.0)

    found = attributions(predict, data, method="occlusion")
    # colour's reference is "red": only the blue row moves when it is occluded.
    assert_allclose(found.values[:, 1], [0.0, 0.0, -3.0, 0.0])
    assert_allclose(found.values[:, 0], (data["size"] - 2.5) * [2, 2, 1, 2])


def test_a_model_predicting_labels_cannot_be_explained(frame):
    def labels(rows):
        return np.where(rows[:, 0] > 0, "yes", "no")

    with pytest.raises(CannotExplain, match="not numbers"):
        attributions(labels, frame.to_numpy()[:3], method="occlusion")


def test_bad_requests_are_refused_naming_the_problem(xgb_binary, frame):
    with pytest.raises(InvalidInput, match="method must be one of"):
        attributions(xgb_binary, frame, method="lime")
    with pytest.raises(CannotExplain, match="needs a lightgbm model"):
        attributions(xgb_binary, frame, method="lightgbm_treeshap")
    with pytest.raises(InvalidInput, match="has 3 feature columns but the model takes 4"):
        attributions(xgb_binary, frame.to_numpy()[:, :3])
    with pytest.raises(InvalidInput, match="holds no rows"):
        attributions(xgb_binary, frame.iloc[:0])


def test_attributions_serialise_as_the_explain_route_answers(lgb_multiclass, frame):
    import json

    found = attributions(lgb_multiclass, frame.iloc[:2])
    body = json.loads(json.dumps(found.to_dict()))
    assert set(body) == {
        "attributions",
        "base_values",
        "feature_names",
        "method",
        "output",
        "classes",
    }
    assert np.shape(body["attributions"]) == (2, 4, 3)
    assert np.shape(body["base_values"]) == (2, 3)
