"""The example training pipeline: a model URI the registry accepts, on built-in data or a
registered dataset version (recorded as the load step's input)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import perennia.data
import perennia.models
from perennia.registry import register_model
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import training


def test_training_pipeline_model_registers_and_matches_plain_sklearn(tracking: str) -> None:
    result = training.run({"C": 0.5})
    assert result.status == "FINISHED", result.error

    frame = load_breast_cancer(as_frame=True).frame
    y = frame["target"].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        frame.drop(columns=["target"]), y, test_size=0.3, random_state=0, stratify=y
    )
    oracle = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    oracle.fit(X_train, y_train)
    expected = roc_auc_score(y_test, oracle.predict_proba(X_test)[:, 1])
    assert result.outputs["metrics"]["roc_auc"] == pytest.approx(expected, abs=1e-12)

    version = register_model(result.model_uri(), "breast-cancer")
    assert version.version == 1
    assert version.run_id == result.steps["train"].run_id
    loaded = perennia.models.load("models:/breast-cancer/1")
    np.testing.assert_array_equal(loaded.predict(X_test), oracle.predict(X_test))


def test_training_on_a_dataset_version_records_it_as_an_input(tracking: str) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    version = perennia.data.register("train", frame)
    result = training.run({"data": version.ref, "C": 1.0})
    assert result.status == "FINISHED", result.error
    load_run = Client().get_run(result.steps["load"].run_id)
    inputs = [(d.dataset.name, d.dataset.digest) for d in load_run.inputs.dataset_inputs]
    assert inputs == [("train", version.digest)]
    assert load_run.data.params["data"] == version.ref
