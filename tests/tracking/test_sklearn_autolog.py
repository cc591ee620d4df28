"""perennia.sklearn.autolog(): one run per top-level fit, with params, training metrics, class and dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import perennia
import perennia.sklearn
from perennia.data import from_numpy


@pytest.fixture
def autolog(tracking: str):
    perennia.sklearn.autolog()
    yield
    perennia.sklearn.autolog(disable=True)


def _runs() -> list:
    perennia.flush()
    return perennia.search_runs(output_format="list")


def test_fit_without_active_run_creates_one_finished_run(autolog: None) -> None:
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    model = LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    (run,) = _runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    predicted = model.predict(X)
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(
        metrics.accuracy_score(y, predicted)
    )
    assert run.data.metrics["training_f1_score"] == pytest.approx(
        metrics.f1_score(y, predicted, average="weighted")
    )
    assert run.data.metrics["training_roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, model.predict_proba(X)[:, 1])
    )
    assert run.data.metrics["training_log_loss"] == pytest.approx(
        metrics.log_loss(y, model.predict_proba(X))
    )
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.context == "training"
    assert dataset_input.dataset.digest == from_numpy(X, y).digest
    assert dataset_input.dataset.row_count == 200


def test_regressor_metrics_match_sklearn(autolog: None) -> None:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    (run,) = _runs()
    predicted = model.predict(X)
    mse = metrics.mean_squared_error(y, predicted)
    assert run.data.metrics["training_mean_squared_error"] == pytest.approx(mse)
    assert run.data.metrics["training_root_mean_squared_error"] == pytest.approx(math.sqrt(mse))
    assert run.data.metrics["training_r2_score"] == pytest.approx(metrics.r2_score(y, predicted))
    assert run.data.metrics["training_score"] == pytest.approx(model.score(X, y))


def test_pipeline_and_grid_search_log_only_the_outer_fit(autolog: None) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)).fit(
        X, y
    )
    GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3).fit(*load_diabetes(return_X_y=True))
    runs = _runs()
    assert sorted(r.data.tags["estimator_name"] for r in runs) == ["GridSearchCV", "Pipeline"]
    pipeline_run = next(r for r in runs if r.data.tags["estimator_name"] == "Pipeline")
    assert "randomforestclassifier__n_estimators" in pipeline_run.data.params
    dataset = pipeline_run.inputs.dataset_inputs[0].dataset
    assert dataset.targets == ["target"] and dataset.row_count == 150


def test_fit_inside_active_run_logs_into_it(autolog: None) -> None:
    X, y = make_classification(n_samples=100, random_state=1)
    with perennia.start_run(run_name="outer") as outer:
        LogisticRegression(max_iter=300).fit(X, y)
    (run,) = _runs()
    assert run.info.run_id == outer.run_id
    assert "training_accuracy_score" in run.data.metrics


def test_failing_fit_marks_run_failed_and_reraises(autolog: None) -> None:
    X = np.array([[1.0], [np.nan]])
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, [0, 1])
    (run,) = _runs()
    assert run.info.status == "FAILED"


def test_disable_restores_original_fit(tracking: str) -> None:
    original = LogisticRegression.fit
    perennia.sklearn.autolog()
    assert LogisticRegression.fit is not original
    perennia.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression(max_iter=200).fit(*make_classification(n_samples=50, random_state=2))
    assert _runs() == []
