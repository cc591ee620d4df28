"""Explanations of Perennia packages: a saved and loaded model is explained exactly as the
estimator it holds, reaching the booster behind the flavor's wrapper."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import perennia.models
from perennia.evaluate.explain import (
    attributions,
    global_importance,
    native_importance,
    permutation_importance,
)


def saved(model, folder, example):
    perennia.models.save(model, folder, signature="infer", input_example=example)
    return perennia.models.load(folder)


def test_a_loaded_xgboost_classifier_is_explained_as_the_estimator(
    tmp_path, frame, multiclass_target
):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(frame, multiclass_target)
    loaded = saved(model, tmp_path / "xgb", frame.iloc[:5])
    rows = frame.iloc[:20]
    ours, raw = attributions(loaded, rows), attributions(model, rows)
    assert ours.method == "xgboost_treeshap" and ours.classes == [0, 1, 2]
    assert_allclose(ours.values, raw.values)
    assert_allclose(ours.totals(), model.predict(rows, output_margin=True), atol=1e-5)
    assert native_importance(loaded).as_dict() == pytest.approx(native_importance(model).as_dict())


def test_a_loaded_raw_booster_reaches_the_booster_inside_the_wrapper(
    tmp_path, frame, regression_target
):
    import xgboost

    booster = xgboost.train(
        {"max_depth": 3}, xgboost.DMatrix(frame, label=regression_target), num_boost_round=5
    )
    loaded = saved(booster, tmp_path / "booster", frame.iloc[:5])
    found = attributions(loaded, frame.iloc[:10])
    assert found.feature_names == list(frame.columns)
    margin = booster.predict(xgboost.DMatrix(frame.iloc[:10]), output_margin=True)
    assert_allclose(found.totals(), margin, atol=1e-5)
    assert global_importance(loaded).method == "gain"


def test_a_loaded_lightgbm_classifier_keeps_its_class_labels(tmp_path, frame, multiclass_target):
    import lightgbm

    labels = np.array(["low", "mid", "high"])[multiclass_target]
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame, labels)
    loaded = saved(model, tmp_path / "lgb", frame.iloc[:5])
    found = attributions(loaded, frame.iloc[:10])
    assert found.method == "lightgbm_treeshap" and found.classes == list(model.classes_)
    assert_allclose(found.totals(), model.predict(frame.iloc[:10], raw_score=True), atol=1e-9)


def test_a_loaded_sklearn_pipeline_is_explained_through_its_probabilities(
    tmp_path, frame, binary_target
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, binary_target)
    loaded = saved(model, tmp_path / "pipe", frame.iloc[:5])
    found = attributions(loaded, frame.iloc[:6], background=frame.iloc[200:])
    assert found.method == "shap_kernel" and found.output == "probability"
    assert_allclose(found.totals(), model.predict_proba(frame.iloc[:6])[:, 1], atol=1e-9)
    ours = permutation_importance(loaded, frame, binary_target, metric="roc_auc", random_state=0)
    raw = permutation_importance(model, frame, binary_target, metric="roc_auc", random_state=0)
    assert_allclose(ours.importances, raw.importances)
