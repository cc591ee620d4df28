"""Batching in the live server: concurrent requests share a predict call and still each get
their own rows back; a package that says it is not batchable is predicted one request at a
time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from perennia.serving.config import ServeConfig
from tests.serving.conftest import mlflow_body, pipeline, training_frame


def _batch_rows(url: str) -> list[float]:
    """Return [number of batches, rows in them] from the server's batch size histogram."""
    families = text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
    family = next(f for f in families if f.name == "perennia_batch_size")
    total = {s.name: s.value for s in family.samples if not s.labels.get("le")}
    return [total["perennia_batch_size_count"], total["perennia_batch_size_sum"]]


def _fire(url: str, frame, requests: int = 96) -> list[tuple[int, list]]:
    def one(i: int):
        rows = frame.iloc[i % 50 : i % 50 + 1 + i % 3]
        with httpx.Client() as client:
            reply = client.post(f"{url}/invocations", json=mlflow_body(rows), timeout=30)
        return i, reply.status_code, reply.json()["predictions"]

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(requests)))


@pytest.fixture(scope="module")
def frame():
    return training_frame(n=60, seed=4)[0]


def test_concurrent_requests_share_predict_calls_and_get_their_own_rows(
    sk_package, sk_model, serve_app, frame
):
    app = serve_app(ServeConfig(model_uri=str(sk_package)))
    answers = _fire(app.url, frame)
    model, _ = sk_model
    for i, status, predictions in answers:
        assert status == 200
        assert predictions == model.predict(frame.iloc[i % 50 : i % 50 + 1 + i % 3]).tolist()
    batches, rows = _batch_rows(app.url)
    assert rows == sum(1 + i % 3 for i in range(96))
    assert batches < 96  # some requests were predicted together


def test_a_package_that_is_not_batchable_is_predicted_request_by_request(
    tmp_path, serve_app, frame
):
    import perennia.models

    model, train = pipeline()
    folder = tmp_path / "package"
    perennia.models.save(
        model,
        folder,
        signature="infer",
        input_example=train.iloc[:5],
        metadata={"batchable": False},
    )
    app = serve_app(ServeConfig(model_uri=str(folder)))
    answers = _fire(app.url, frame)
    assert all(status == 200 for _, status, _ in answers)
    batches, rows = _batch_rows(app.url)
    assert batches == 96 and rows == sum(1 + i % 3 for i in range(96))
