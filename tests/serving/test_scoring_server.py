"""`/invocations` and friends answer like `mlflow models serve`: MLflow's own scoring app, run on
the same model, is the oracle for every answer and status code below."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from perennia._version import __version__
from perennia.serving.config import ServeConfig
from tests.serving.conftest import COLUMNS

# One worker runs the module (--dist loadgroup): MLflow's scoring app is built once, not twice.
pytestmark = pytest.mark.xdist_group("mlflow-scoring")


@pytest.fixture(scope="module")
def mlflow_app(sk_model, tmp_path_factory):
    """Return a client of MLflow's scoring app serving the same pipeline."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from fastapi.testclient import TestClient
    from mlflow.models import infer_signature
    from mlflow.pyfunc import scoring_server

    model, frame = sk_model
    path = tmp_path_factory.mktemp("mlflow") / "model"
    mlflow.sklearn.save_model(model, path, signature=infer_signature(frame, model.predict(frame)))
    return TestClient(scoring_server.init(mlflow.pyfunc.load_model(str(path))))


@pytest.fixture(scope="module")
def ours(sk_package):
    """Return the URL of `perennia serve` on the same pipeline (batching on, no log)."""
    from tests.serving.conftest import ServingApp

    app = ServingApp(ServeConfig(model_uri=str(sk_package))).start()
    yield app.url
    app.stop()


def rows(frame, n=3):
    return frame.iloc[:n]


def bodies(frame) -> dict[str, tuple[str, bytes]]:
    """Return every request format MLflow documents, for the first rows of `frame`."""
    sample = rows(frame)
    split = {"columns": COLUMNS, "data": sample.values.tolist()}
    records = json.loads(sample.to_json(orient="records"))
    columnar = {c: sample[c].tolist() for c in COLUMNS}
    return {
        "dataframe_split": ("application/json", json.dumps({"dataframe_split": split}).encode()),
        "dataframe_records": (
            "application/json",
            json.dumps({"dataframe_records": records}).encode(),
        ),
        "instances": ("application/json", json.dumps({"instances": records}).encode()),
        "inputs": ("application/json", json.dumps({"inputs": columnar}).encode()),
        "csv": ("text/csv", sample.to_csv(index=False).encode()),
        "charset": (
            "application/json; charset=utf-8",
            json.dumps({"dataframe_split": split}).encode(),
        ),
    }


@pytest.mark.parametrize(
    "kind", ["dataframe_split", "dataframe_records", "instances", "inputs", "csv", "charset"]
)
def test_every_mlflow_request_format_gets_mlflows_answer(kind, mlflow_app, ours, sk_model):
    content_type, body = bodies(sk_model[1])[kind]
    expected = mlflow_app.post("/invocations", content=body, headers={"content-type": content_type})
    got = httpx.post(f"{ours}/invocations", content=body, headers={"content-type": content_type})
    assert got.status_code == expected.status_code == 200
    assert got.json() == expected.json()
    model, frame = sk_model
    assert got.json()["predictions"] == model.predict(rows(frame)).tolist()


BAD = {
    "top-level list": ("application/json", b"[[1, 2, 3, 4]]"),
    "bad json": ("application/json", b"{not json"),
    "two formats": ("application/json", b'{"inputs": [1], "instances": [1]}'),
    "no format": ("application/json", b'{"data": [1]}'),
    "wrong content type": ("text/plain", b"x0,x1\n1,2"),
    "latin-1 charset": ("application/json; charset=latin-1", b'{"inputs": [[1]]}'),
    "missing column": (
        "application/json",
        json.dumps({"dataframe_split": {"columns": ["x0", "x1"], "data": [[1, 2]]}}).encode(),
    ),
    "string for a double": (
        "application/json",
        json.dumps(
            {"dataframe_split": {"columns": COLUMNS, "data": [["a", 1.0, 2.0, "red"]]}}
        ).encode(),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_requests_get_mlflows_4xx_never_a_500(case, mlflow_app, ours):
    content_type, body = BAD[case]
    expected = mlflow_app.post("/invocations", content=body, headers={"content-type": content_type})
    got = httpx.post(f"{ours}/invocations", content=body, headers={"content-type": content_type})
    assert 400 <= got.status_code < 500
    assert got.status_code == expected.status_code
    assert (
        got.headers["content-type"].split(";")[0] == expected.headers["content-type"].split(";")[0]
    )
    if expected.headers["content-type"].startswith("application/json"):
        assert got.json()["error_code"] == expected.json()["error_code"]


def test_a_bad_column_is_named_in_the_error(ours):
    body = {"dataframe_split": {"columns": COLUMNS, "data": [["oops", 1.0, 2.0, "red"]]}}
    got = httpx.post(f"{ours}/invocations", json=body)
    assert got.status_code == 400
    message = got.json()["message"]
    assert "x0" in message and "oops" in message


def test_health_ping_and_version_answer_like_mlflow(mlflow_app, ours):
    for path in ("/ping", "/health"):
        assert httpx.get(f"{ours}{path}").status_code == mlflow_app.get(path).status_code == 200
    version = httpx.get(f"{ours}/version")
    assert version.status_code == 200
    assert version.text == __version__


def test_mlflows_own_scoring_client_calls_perennia(ours, sk_model):
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    model, frame = sk_model
    port = int(ours.rsplit(":", 1)[1])
    client = ScoringServerClient("127.0.0.1", port)
    client.wait_server_ready(timeout=10)
    answer = client.invoke(rows(frame, 5))
    predictions = answer.get_predictions()
    assert np.asarray(predictions).ravel().tolist() == model.predict(rows(frame, 5)).tolist()


def test_answers_name_their_request_variant_and_version(ours, sk_model):
    body = bodies(sk_model[1])["dataframe_split"][1]
    got = httpx.post(
        f"{ours}/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert len(got.headers["perennia-request-id"]) == 32
    assert got.headers["perennia-variant"] == "default"
    assert got.headers["perennia-model-version"] == ""  # a package folder has no version


def test_a_body_over_the_limit_is_refused_with_413(sk_package, serve_app):
    app = serve_app(ServeConfig(model_uri=str(sk_package), max_body_bytes=4096))
    body = json.dumps({"inputs": [[0.0] * 4] * 1000}).encode()
    got = httpx.post(
        f"{app.url}/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert got.status_code == 413
