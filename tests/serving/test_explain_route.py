"""`POST /explain` on `perennia serve`: the bodies /invocations takes, answered with per-row
attributions that equal the library's own (and add up to the model's margin), bounded rows,
and 4xx answers naming what is wrong."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

from perennia.evaluate.explain import attributions
from perennia.serving.config import ServeConfig
from tests.serving.conftest import COLUMNS, ServingApp, mlflow_body

FEATURES = ["age", "income", "tenure"]
LIMIT = 25  # rows one request may hold on the servers below


def credit_frame(n: int = 200, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=FEATURES)
    target = (frame["age"] + frame["income"] * frame["tenure"] > 0).astype(int)
    return frame, target


@pytest.fixture(scope="module")
def booster_model():
    import xgboost

    frame, target = credit_frame()
    return xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(frame, target), frame


def start(config: ServeConfig):
    app = ServingApp(config).start()
    return app


@pytest.fixture(scope="module")
def xgb_server(booster_model, tmp_path_factory):
    """Return the URL of a server of the XGBoost package (signature and input example)."""
    import perennia.models

    model, frame = booster_model
    folder = tmp_path_factory.mktemp("explain") / "xgb"
    perennia.models.save(model, folder, signature="infer", input_example=frame.iloc[:5])
    app = start(ServeConfig(model_uri=str(folder), name="credit", explain_max_rows=LIMIT))
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def pipeline_server(sk_package):
    """Return the URL of a server of the scikit-learn pipeline package (text column)."""
    app = start(ServeConfig(model_uri=str(sk_package), name="pipeline"))
    yield app.url
    app.stop()


def bodies(rows) -> dict[str, tuple[str, bytes]]:
    """Return the same rows in every format /invocations documents."""
    records = json.loads(rows.to_json(orient="records"))
    split = {"columns": list(rows.columns), "data": rows.values.tolist()}
    columns = {c: rows[c].tolist() for c in rows.columns}
    return {
        "dataframe_split": ("application/json", json.dumps({"dataframe_split": split}).encode()),
        "dataframe_records": (
            "application/json",
            json.dumps({"dataframe_records": records}).encode(),
        ),
        "instances": ("application/json", json.dumps({"instances": records}).encode()),
        "inputs": ("application/json", json.dumps({"inputs": columns}).encode()),
        "csv": ("text/csv", rows.to_csv(index=False).encode()),
    }


@pytest.mark.parametrize(
    "kind", ["dataframe_split", "dataframe_records", "instances", "inputs", "csv"]
)
def test_every_invocations_format_is_explained_by_exact_treeshap(kind, xgb_server, booster_model):
    model, frame = booster_model
    rows = frame.iloc[10:17]
    content_type, body = bodies(rows)[kind]
    answer = httpx.post(
        f"{xgb_server}/explain", content=body, headers={"content-type": content_type}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["perennia-variant"] == "default"
    got = answer.json()
    assert got["method"] == "xgboost_treeshap" and got["output"] == "margin"
    assert got["feature_names"] == FEATURES
    expected = attributions(model, rows)
    assert_allclose(got["attributions"], expected.values, atol=1e-6)
    assert_allclose(got["base_values"], expected.base_values, atol=1e-6)
    totals = np.sum(got["attributions"], axis=1) + got["base_values"]
    assert_allclose(totals, model.predict(rows, output_margin=True), atol=1e-5)


def test_columns_in_another_order_with_an_extra_one_are_checked_like_invocations(
    xgb_server, booster_model
):
    model, frame = booster_model
    rows = frame.iloc[:3]
    split = {"columns": ["tenure", "extra", "income", "age"], "data": []}
    split["data"] = [[r.tenure, 1.0, r.income, r.age] for r in rows.itertuples()]
    answer = httpx.post(f"{xgb_server}/explain", json={"dataframe_split": split})
    assert answer.status_code == 200, answer.text
    assert answer.json()["feature_names"] == FEATURES
    assert_allclose(answer.json()["attributions"], attributions(model, rows).values, atol=1e-6)


def test_more_rows_than_the_limit_are_refused_with_413(xgb_server, booster_model):
    _, frame = booster_model
    rows = frame.iloc[: LIMIT + 1]
    answer = httpx.post(
        f"{xgb_server}/explain", json={"dataframe_split": json.loads(rows.to_json(orient="split"))}
    )
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert f"at most {LIMIT}" in answer.json()["message"]
    at_limit = frame.iloc[:LIMIT]
    body = {"dataframe_split": {"columns": FEATURES, "data": at_limit.values.tolist()}}
    assert httpx.post(f"{xgb_server}/explain", json=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"dataframe_split": {"columns": ["age", "income"], "data": [[1.0, 2.0]]}},
            400,
            "'tenure' is missing",
        ),
        ({"dataframe_split": {"columns": FEATURES, "data": []}}, 400, "no rows"),
        ({"rows": [[1, 2, 3]]}, 400, "exactly one of the input fields"),
        (
            {"dataframe_split": {"columns": FEATURES, "data": [["a", 1.0, 2.0]]}},
            400,
            "'age' expects",
        ),
    ],
    ids=["missing-column", "no-rows", "unknown-format", "text-for-a-number"],
)
def test_bad_input_gets_a_4xx_naming_the_problem(body, status, words, xgb_server):
    answer = httpx.post(f"{xgb_server}/explain", json=body)
    assert answer.status_code == status
    assert words in answer.json()["message"]


def test_a_body_that_is_not_json_is_refused(xgb_server):
    answer = httpx.post(
        f"{xgb_server}/explain", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert "valid JSON" in answer.json()["message"]


def test_explanations_are_counted_in_the_request_metrics(xgb_server, booster_model):
    _, frame = booster_model
    body = {"dataframe_split": {"columns": FEATURES, "data": frame.iloc[:2].values.tolist()}}
    assert httpx.post(f"{xgb_server}/explain", json=body).status_code == 200
    metrics = httpx.get(f"{xgb_server}/metrics").text
    assert 'protocol="explain"' in metrics


def test_a_pipeline_with_a_text_column_is_explained_against_its_input_example(
    pipeline_server, sk_model
):
    model, frame = sk_model
    rows = frame.iloc[20:24]
    answer = httpx.post(f"{pipeline_server}/explain", json=mlflow_body(rows))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["method"] == "shap_kernel" and got["output"] == "probability"
    assert got["feature_names"] == COLUMNS
    totals = np.sum(got["attributions"], axis=1) + got["base_values"]
    assert_allclose(totals, model.predict_proba(rows)[:, 1], atol=1e-9)
    # The background is the package's input example: the first five training rows.
    assert_allclose(got["base_values"], model.predict_proba(frame.iloc[:5])[:, 1].mean())


def test_a_model_that_needs_a_background_and_has_none_is_refused_with_422(tmp_path):
    from sklearn.neighbors import KNeighborsRegressor

    import perennia.models

    frame, target = credit_frame()
    folder = tmp_path / "knn"
    perennia.models.save(KNeighborsRegressor().fit(frame, target), folder)  # no input example
    app = start(ServeConfig(model_uri=str(folder), name="knn"))
    try:
        body = {"dataframe_split": {"columns": FEATURES, "data": frame.iloc[:2].values.tolist()}}
        answer = httpx.post(f"{app.url}/explain", json=body)
        assert httpx.post(f"{app.url}/invocations", json=body).status_code == 200
    finally:
        app.stop()
    assert answer.status_code == 422
    assert "input_example" in answer.json()["message"]
