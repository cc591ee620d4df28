"""`cross_validate()`: folds match scikit-learn's, and each fold is a nested run of one parent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold, TimeSeriesSplit, cross_val_score

from perennia.errors import InvalidInput
from perennia.evaluate import cross_validate


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    X, y = make_classification(n_samples=300, n_features=4, random_state=8)
    data = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    data["label"] = y
    data["patient"] = np.arange(len(data)) % 12
    return data


def test_stratified_folds_score_exactly_like_sklearn(frame: pd.DataFrame) -> None:
    data = frame.drop(columns="patient")
    result = cross_validate(LogisticRegression(), data, "label", n_splits=5, seed=3, log=False)
    expected = cross_val_score(
        LogisticRegression(),
        data.drop(columns="label"),
        data["label"],
        scoring="roc_auc",
        cv=StratifiedKFold(5, shuffle=True, random_state=3),
    )
    got = [fold.metrics["roc_auc"] for fold in result.folds]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert result.mean["roc_auc"] == pytest.approx(expected.mean())
    assert result.std["roc_auc"] == pytest.approx(expected.std(ddof=1))
    assert list(result.to_frame()["roc_auc"]) == got


def test_group_folds_follow_group_kfold(frame: pd.DataFrame) -> None:
    result = cross_validate(
        LogisticRegression(), frame, "label", cv="group", groups="patient", n_splits=4, log=False
    )
    features = frame.drop(columns=["label", "patient"])
    expected = cross_val_score(
        LogisticRegression(),
        features,
        frame["label"],
        groups=frame["patient"],
        scoring="accuracy",
        cv=GroupKFold(4),
    )
    np.testing.assert_allclose([f.metrics["accuracy"] for f in result.folds], expected, atol=1e-12)
    with pytest.raises(InvalidInput, match="groups="):
        cross_validate(LogisticRegression(), frame, "label", cv="group", log=False)


def test_time_series_folds_grow_and_regression_works() -> None:
    X, y = make_regression(n_samples=240, n_features=3, noise=5, random_state=1)
    result = cross_validate(
        LinearRegression(), X, y, cv="time-series", n_splits=4, task="regression", log=False
    )
    expected = cross_val_score(LinearRegression(), X, y, scoring="r2", cv=TimeSeriesSplit(4))
    np.testing.assert_allclose([f.metrics["r2"] for f in result.folds], expected, atol=1e-10)
    assert [f.n_rows for f in result.folds] == [48, 48, 48, 48]


def test_bad_strategy_and_split_count_are_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="cv must be one of"):
        cross_validate(LogisticRegression(), frame, "label", cv="random", log=False)
    with pytest.raises(InvalidInput, match="n_splits"):
        cross_validate(LogisticRegression(), frame, "label", n_splits=1, log=False)


def test_each_fold_is_a_nested_run_and_the_parent_holds_mean_and_std(
    tracking: str, frame: pd.DataFrame
) -> None:
    import perennia

    data = frame.drop(columns="patient")
    result = cross_validate(LogisticRegression(), data, "label", n_splits=3, run_name="cv-test")
    client = perennia.Client()
    parent = client.get_run(result.run_id)
    assert parent.info.run_name == "cv-test"
    assert parent.data.params["cv"] == "stratified" and parent.data.params["cv_splits"] == "3"
    assert parent.data.metrics["cv_roc_auc_mean"] == pytest.approx(result.mean["roc_auc"])
    assert parent.data.metrics["cv_roc_auc_std"] == pytest.approx(result.std["roc_auc"])
    history = client.get_metric_history(result.run_id, "cv_roc_auc")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == [f.metrics["roc_auc"] for f in result.folds]
    children = [client.get_run(run_id) for run_id in result.fold_run_ids]
    assert [c.info.run_name for c in children] == ["fold-0", "fold-1", "fold-2"]
    for child, fold in zip(children, result.folds, strict=True):
        assert child.info.parent_run_id == result.run_id
        assert child.data.metrics["val_accuracy"] == fold.metrics["accuracy"]


def test_inside_an_active_run_the_cv_parent_is_nested(tracking: str, frame: pd.DataFrame) -> None:
    import perennia

    with perennia.start_run(run_name="outer") as outer:
        result = cross_validate(
            LogisticRegression(), frame.drop(columns="patient"), "label", n_splits=2
        )
    assert perennia.Client().get_run(result.run_id).info.parent_run_id == outer.run_id
