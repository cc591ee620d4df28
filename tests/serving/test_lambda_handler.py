"""The Lambda-style handler: recorded API Gateway events (REST "v1" and HTTP API "v2") go
through the very app `perennia serve` runs, and each answer equals the live server's."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from perennia.serving import lambda_handler
from perennia.serving.config import ServeConfig
from tests.serving.conftest import ServingApp, mlflow_body, oip_inputs

NAME = "pipeline"


def rest_v1_event(method: str, path: str, body: bytes | None, headers: dict, *, b64: bool) -> dict:
    """Return an API Gateway REST API (payload 1.0) proxy event, as Lambda receives it."""
    encoded = None
    if body is not None:
        encoded = base64.b64encode(body).decode() if b64 else body.decode()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {
            "Accept": "*/*",
            "Host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "User-Agent": "curl/8.5.0",
            "X-Amzn-Trace-Id": "Root=1-65f1c2d3-0a1b2c3d4e5f60718293a4b5",
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            **headers,
        },
        "multiValueHeaders": {"Accept": ["*/*"], **{k: [v] for k, v in headers.items()}},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "x7k2pq",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "UvDnVHvTDoEFmTQ=",
            "requestTime": "13/Mar/2024:10:21:07 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "a1b2c3d4e5",
            "requestTimeEpoch": 1710325267123,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "apiId": "a1b2c3d4e5",
        },
        "body": encoded,
        "isBase64Encoded": b64,
    }


def http_v2_event(method: str, path: str, body: bytes | None, headers: dict, *, b64: bool) -> dict:
    """Return an API Gateway HTTP API (payload 2.0) event, as Lambda receives it."""
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "host": "q1w2e3r4t5.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "python-httpx/0.27",
            "x-amzn-trace-id": "Root=1-65f1c2d3-1a2b3c4d5e6f708192a3b4c5",
            "x-forwarded-proto": "https",
            **headers,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "q1w2e3r4t5",
            "domainName": "q1w2e3r4t5.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "q1w2e3r4t5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.4",
                "userAgent": "python-httpx/0.27",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "13/Mar/2024:10:21:07 +0000",
            "timeEpoch": 1710325267123,
        },
        "isBase64Encoded": b64,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if b64 else body.decode()
    return event


EVENTS = {"rest-v1": rest_v1_event, "http-v2": http_v2_event}
CASES = [
    "invocations",
    "csv",
    "infer",
    "infer-binary-out",
    "metadata",
    "ping",
    "ready",
    "bad json",
    "bad infer",
    "missing column",
    "unknown model",
]


def requests(frame) -> dict[str, tuple[str, str, bytes | None, dict]]:
    """Return (method, path, body, headers) of each request the tests replay, headers in mixed case."""
    rows = frame.iloc[:4]
    split = mlflow_body(rows)
    inputs = oip_inputs(rows)
    json_type = {"Content-Type": "application/json"}
    return {
        "invocations": ("POST", "/invocations", json.dumps(split).encode(), json_type),
        "csv": (
            "POST",
            "/invocations",
            rows.to_csv(index=False).encode(),
            {"CONTENT-TYPE": "text/csv"},
        ),
        "infer": (
            "POST",
            f"/v2/models/{NAME}/infer",
            json.dumps({"id": "evt-1", "inputs": inputs}).encode(),
            {"content-Type": "application/json"},
        ),
        "infer-binary-out": (
            "POST",
            f"/v2/models/{NAME}/infer",
            json.dumps(
                {"id": "evt-2", "inputs": inputs, "parameters": {"binary_data_output": True}}
            ).encode(),
            json_type,
        ),
        "metadata": ("GET", f"/v2/models/{NAME}", None, {}),
        "ping": ("GET", "/ping", None, {}),
        "ready": ("GET", "/v2/health/ready", None, {}),
        "bad json": ("POST", "/invocations", b'{"dataframe_split": ', json_type),
        "bad infer": (
            "POST",
            f"/v2/models/{NAME}/infer",
            b'{"inputs": [{"name": "x0"}]}',
            json_type,
        ),
        "missing column": (
            "POST",
            "/invocations",
            json.dumps({"dataframe_split": {"columns": ["x0"], "data": [[1.0]]}}).encode(),
            json_type,
        ),
        "unknown model": (
            "POST",
            "/v2/models/nope/infer",
            json.dumps({"inputs": inputs}).encode(),
            json_type,
        ),
    }


@pytest.fixture(scope="module")
def config(sk_package) -> ServeConfig:
    """Return the configuration both the Lambda handler and the live server run."""
    return ServeConfig(model_uri=str(sk_package), name=NAME)


@pytest.fixture(scope="module")
def live(config):
    """Return the URL of the live server the handler's answers are compared with."""
    app = ServingApp(config).start()
    yield app.url
    app.stop()


@pytest.fixture
def handler(config, monkeypatch):
    """Return `lambda_handler.handler` configured through PERENNIA_SERVE_CONFIG, fresh per test."""
    monkeypatch.setenv("PERENNIA_SERVE_CONFIG", config.to_json())
    monkeypatch.setattr(lambda_handler, "_runtime", None)
    yield lambda_handler.handler
    if lambda_handler._runtime is not None:
        lambda_handler._runtime.close()


def body_of(response: dict) -> bytes:
    """Return the bytes of a Lambda proxy response's body."""
    if response["isBase64Encoded"]:
        return base64.b64decode(response["body"])
    return response["body"].encode()


@pytest.mark.parametrize("kind", sorted(EVENTS))
@pytest.mark.parametrize("case", CASES)
def test_a_recorded_event_gets_the_live_servers_answer(handler, live, sk_model, kind, case):
    method, path, body, headers = requests(sk_model[1])[case]
    for b64 in (False, True):
        response = handler(EVENTS[kind](method, path, body, headers, b64=b64), None)
        expected = httpx.request(method, f"{live}{path}", content=body, headers=headers)
        assert response["statusCode"] == expected.status_code, case
        answer_type = response["headers"]["content-type"]
        assert answer_type == expected.headers["content-type"]
        # Byte for byte: no answer here carries anything that differs between two calls.
        assert body_of(response) == expected.content
        if expected.status_code == 200 and method == "POST":
            assert len(response["headers"]["perennia-request-id"]) == 32
        elif expected.status_code >= 400:
            assert 400 <= response["statusCode"] < 500


def test_predictions_through_the_handler_are_sklearns(handler, sk_model):
    model, frame = sk_model
    _, path, body, headers = requests(frame)["infer-binary-out"]
    response = handler(http_v2_event("POST", path, body, headers, b64=True), None)
    assert response["statusCode"] == 200 and response["isBase64Encoded"]
    raw = body_of(response)
    length = int(response["headers"]["inference-header-content-length"])
    assert json.loads(raw[:length])["id"] == "evt-2"
    assert (
        np.frombuffer(raw[length:], dtype="<i8").tolist() == model.predict(frame.iloc[:4]).tolist()
    )


def test_the_handler_starts_the_app_once_per_container(handler, sk_model):
    _, path, body, headers = requests(sk_model[1])["invocations"]
    handler(rest_v1_event("POST", path, body, headers, b64=False), None)
    runtime = lambda_handler._runtime
    handler(rest_v1_event("POST", path, body, headers, b64=False), None)
    assert lambda_handler._runtime is runtime
    assert runtime.app.state.serving.pool.endpoint is not None


def test_a_runtime_logs_its_predictions_and_flushes_on_close(sk_package, tmp_path, sk_model):
    from perennia.data.predlog import read_predictions
    from perennia.serving.app import create_app

    location = str(tmp_path / "predlog")
    config = ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location)
    runtime = lambda_handler.LambdaRuntime(create_app(config))
    model, frame = sk_model
    _, path, body, headers = requests(frame)["infer"]
    ids = []
    try:
        for build in (rest_v1_event, http_v2_event):
            response = runtime.invoke(build("POST", path, body, headers, b64=True))
            assert response["statusCode"] == 200
            ids.append(response["headers"]["perennia-request-id"])
            outputs = json.loads(response["body"])["outputs"]
            assert outputs[0]["data"] == model.predict(frame.iloc[:4]).tolist()
    finally:
        runtime.close()
    log = read_predictions(location)
    assert sorted(log["prediction_id"].to_pylist()) == sorted(
        f"{request_id}-{row}" for request_id in ids for row in range(4)
    )


def test_a_handler_without_configuration_says_how_to_configure_it(monkeypatch):
    from perennia.errors import InvalidInput

    monkeypatch.delenv("PERENNIA_SERVE_CONFIG", raising=False)
    monkeypatch.setattr(lambda_handler, "_runtime", None)
    with pytest.raises(InvalidInput, match="PERENNIA_SERVE_CONFIG"):
        lambda_handler.handler(http_v2_event("GET", "/ping", None, {}, b64=False), None)
