"""The Open Inference Protocol (v2) on the live server, called by Triton's own HTTP client and by
plain JSON: health, metadata from the signature, tensors per column, tables, the binary tensor
extension, versions, and malformed requests that must get a 4xx naming the field, never a 5xx."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from perennia.serving.config import ServeConfig
from tests.serving.conftest import COLUMNS, ServingApp, oip_inputs
from tests.serving.strategies import INFER_REQUEST, JSON

NAME = "pipeline"
LIMIT = 64 * 1024  # the server's max_body_bytes


@pytest.fixture(scope="module")
def server(sk_package):
    """Return the live app serving the pipeline as NAME, with a 64 KiB body limit."""
    app = ServingApp(
        ServeConfig(model_uri=str(sk_package), name=NAME, max_body_bytes=LIMIT)
    ).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def triton(server):
    """Return tritonclient's HTTP client pointed at the server."""
    import tritonclient.http

    client = tritonclient.http.InferenceServerClient(server.url.removeprefix("http://"))
    yield client
    client.close()


def tensor(name: str, values, binary: bool):
    """Return a tritonclient input for one column: BYTES for text, FP64 for numbers."""
    import tritonclient.http

    array = np.asarray(values)
    if array.dtype.kind in "OUS":
        array = array.astype(object)
        spec = tritonclient.http.InferInput(name, [len(array)], "BYTES")
    else:
        array = array.astype(np.float64)
        spec = tritonclient.http.InferInput(name, [len(array)], "FP64")
    spec.set_data_from_numpy(array, binary_data=binary)
    return spec


def column_inputs(frame, binary: bool = False) -> list:
    """Return one tritonclient input per column of `frame`."""
    return [tensor(c, frame[c].to_numpy(), binary) for c in COLUMNS]


def test_server_and_model_health_through_tritonclient(triton):
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready(NAME)
    assert not triton.is_model_ready("no-such-model")
    metadata = triton.get_server_metadata()
    assert metadata["name"] == "perennia"
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_is_derived_from_the_signature(triton):
    metadata = triton.get_model_metadata(NAME)
    assert metadata["name"] == NAME
    assert metadata["platform"] == "scikit-learn_sklearn"
    assert metadata["inputs"] == [
        {"name": "x0", "datatype": "FP64", "shape": [-1]},
        {"name": "x1", "datatype": "FP64", "shape": [-1]},
        {"name": "x2", "datatype": "FP64", "shape": [-1]},
        {"name": "color", "datatype": "BYTES", "shape": [-1]},
    ]
    assert [(o["datatype"], o["shape"]) for o in metadata["outputs"]] == [("INT64", [-1])]


@pytest.mark.parametrize(
    ("binary_in", "binary_out"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_one_tensor_per_column_predicts_what_sklearn_predicts(
    triton, sk_model, binary_in, binary_out
):
    import tritonclient.http

    model, frame = sk_model
    rows = frame.iloc[:40]
    answer = triton.infer(
        NAME,
        column_inputs(rows, binary=binary_in),
        outputs=[tritonclient.http.InferRequestedOutput("predict", binary_data=binary_out)],
        request_id="caller-7",
    )
    response = answer.get_response()
    assert response["id"] == "caller-7"
    assert response["model_name"] == NAME
    assert ("binary_data_size" in response["outputs"][0].get("parameters", {})) == binary_out
    assert answer.as_numpy("predict").tolist() == model.predict(rows).tolist()


def test_a_binary_answer_carries_the_json_header_length(server, sk_model):
    model, frame = sk_model
    rows = frame.iloc[:5]
    body = {"inputs": oip_inputs(rows), "parameters": {"binary_data_output": True}}
    reply = httpx.post(f"{server.url}/v2/models/{NAME}/infer", json=body)
    assert reply.status_code == 200
    length = int(reply.headers["inference-header-content-length"])
    header = json.loads(reply.content[:length])
    (output,) = header["outputs"]
    raw = reply.content[length:]
    assert output["parameters"]["binary_data_size"] == len(raw)
    assert np.frombuffer(raw, dtype="<i8").tolist() == model.predict(rows).tolist()


def test_a_table_with_content_type_pd_predicts_what_sklearn_predicts(server, sk_model):
    model, frame = sk_model
    rows = frame.iloc[:7]
    inputs = oip_inputs(rows)
    inputs[0]["shape"] = [len(rows), 1]  # a column may also come as [n, 1]
    body = {"id": "t-1", "parameters": {"content_type": "pd"}, "inputs": inputs}
    reply = httpx.post(f"{server.url}/v2/models/{NAME}/infer", json=body)
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["id"] == "t-1"
    (output,) = answer["outputs"]
    assert output["shape"] == [7]
    assert output["data"] == model.predict(rows).tolist()
    assert len(reply.headers["perennia-request-id"]) == 32


def test_content_type_pd_through_tritonclient_parameters(triton, sk_model):
    model, frame = sk_model
    rows = frame.iloc[10:13]
    answer = triton.infer(NAME, column_inputs(rows), parameters={"content_type": "pd"})
    assert answer.as_numpy("predict").tolist() == model.predict(rows).tolist()


def test_an_unknown_model_is_404_on_every_route(server, triton, sk_model):
    from tritonclient.utils import InferenceServerException

    body = {"inputs": oip_inputs(sk_model[1].iloc[:2])}
    for reply in (
        httpx.post(f"{server.url}/v2/models/nope/infer", json=body),
        httpx.get(f"{server.url}/v2/models/nope"),
        httpx.get(f"{server.url}/v2/models/nope/ready"),
    ):
        assert reply.status_code == 404
        assert "'nope'" in reply.json()["error"]
    with pytest.raises(InferenceServerException) as raised:
        triton.infer("nope", column_inputs(sk_model[1].iloc[:2]))
    assert raised.value.status() == "404"


def test_an_unregistered_model_has_no_version_to_ask_for(server, sk_model):
    body = {"inputs": oip_inputs(sk_model[1].iloc[:2])}
    reply = httpx.post(f"{server.url}/v2/models/{NAME}/versions/1/infer", json=body)
    assert reply.status_code == 404
    assert "version '1'" in reply.json()["error"]


@pytest.fixture
def registered(tmp_path, monkeypatch, serve_app, sk_model):
    """Return (app, version) serving version 1 of a registered model `fraud` by its version."""
    from perennia.models.signature import infer_signature
    from perennia.registry.packages import log_model
    from perennia.tracking import fluent
    from tests.conftest import reset_tracking

    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    model, frame = sk_model
    with fluent.start_run():
        info = log_model(
            model, "model", signature=infer_signature(frame), registered_model_name="fraud"
        )
    app = serve_app(ServeConfig(model_uri=f"models:/fraud/{info.registered_version}"))
    yield app, str(info.registered_version)
    reset_tracking()


def test_the_versions_path_serves_the_registered_version(registered, sk_model):
    import tritonclient.http

    app, version = registered
    model, frame = sk_model
    rows = frame.iloc[:9]
    url = f"{app.url}/v2/models/fraud/versions/{version}"
    reply = httpx.post(f"{url}/infer", json={"inputs": oip_inputs(rows)})
    assert reply.status_code == 200
    assert reply.json()["model_version"] == version
    assert reply.json()["outputs"][0]["data"] == model.predict(rows).tolist()
    assert httpx.get(url).json()["versions"] == [version]
    assert httpx.get(f"{url}/ready").json() == {"name": "fraud", "ready": True}
    client = tritonclient.http.InferenceServerClient(app.url.removeprefix("http://"))
    try:
        answer = client.infer("fraud", column_inputs(rows), model_version=version)
        assert answer.as_numpy("predict").tolist() == model.predict(rows).tolist()
        assert client.is_model_ready("fraud", version)
    finally:
        client.close()
    unknown = httpx.post(
        f"{app.url}/v2/models/fraud/versions/99/infer", json={"inputs": oip_inputs(rows)}
    )
    assert unknown.status_code == 404
    assert "'99'" in unknown.json()["error"]


def _good(n: int = 2) -> list[dict]:
    return [
        {"name": "x0", "datatype": "FP64", "shape": [n], "data": [0.1] * n},
        {"name": "x1", "datatype": "FP64", "shape": [n], "data": [0.2] * n},
        {"name": "x2", "datatype": "FP64", "shape": [n], "data": [0.3] * n},
        {"name": "color", "datatype": "BYTES", "shape": [n], "data": ["red"] * n},
    ]


def _with(position: int, **changes) -> bytes:
    inputs = _good()
    inputs[position] = {**inputs[position], **changes}
    return json.dumps({"inputs": inputs}).encode()


# case -> (body, status, words the error must contain: the field named, what was wrong)
MALFORMED = {
    "text for a FP64 column": (_with(0, datatype="BYTES", data=["a", "b"]), 400, ["x0", "float64"]),
    "strings in FP64 data": (_with(1, data=["a", "b"]), 400, ["x1", "FP64"]),
    "numbers for the text column": (
        _with(3, datatype="FP64", data=[1.0, 2.0]),
        400,
        ["color", "string"],
    ),
    "unknown datatype": (_with(2, datatype="FP99"), 400, ["x2", "FP99"]),
    "shape and data disagree": (_with(0, shape=[3]), 400, ["x0", "3", "2"]),
    "nulls in FP64 data": (_with(0, data=[None, 1.0]), 400, ["x0", "FP64"]),
    "a 2-D column": (_with(1, shape=[1, 2]), 400, ["x1", "[1, 2]"]),
    "missing input": (json.dumps({"inputs": _good()[1:]}).encode(), 400, ["x0", "missing"]),
    "no inputs": (b'{"inputs": []}', 400, ["inputs"]),
    "bad json": (b'{"inputs": [', 400, ["JSON"]),
    "not an object": (b"[1, 2]", 400, ["object"]),
    "empty body": (b"", 400, ["JSON"]),
    "duplicate input": (
        json.dumps({"inputs": [*_good(), _good()[0]]}).encode(),
        400,
        ["x0", "twice"],
    ),
    "id not a string": (json.dumps({"id": 3, "inputs": _good()}).encode(), 400, ["id"]),
    "unknown output": (
        json.dumps({"inputs": _good(), "outputs": [{"name": "proba"}]}).encode(),
        400,
        ["proba", "predict"],
    ),
    "no rows": (
        json.dumps({"inputs": [{**i, "shape": [0], "data": []} for i in _good()]}).encode(),
        400,
        ["rows"],
    ),
    "huge body": (
        json.dumps({"inputs": _good(LIMIT // 4)}).encode(),
        413,
        ["limit", str(LIMIT)],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_infer_request_gets_a_4xx_naming_the_field(server, case):
    body, status, words = MALFORMED[case]
    reply = httpx.post(
        f"{server.url}/v2/models/{NAME}/infer",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    for word in words:
        assert word in error


def test_a_streamed_body_over_the_limit_is_refused_without_a_length(server):
    def chunks():
        yield b'{"inputs": [{"name": "x0", "datatype": "FP64", "shape": [1], "data": ['
        for _ in range(LIMIT // 1000 + 2):
            yield b"0," * 500
        yield b"0]}]}"

    reply = httpx.post(f"{server.url}/v2/models/{NAME}/infer", content=chunks())
    assert reply.status_code == 413
    assert str(LIMIT) in reply.json()["error"]


def _binary_request(header_length: int | None, sizes: tuple[int, int]) -> tuple[bytes, dict]:
    values = np.array([0.5, 1.5], dtype="<f8").tobytes()
    inputs = _good()
    inputs[0] = {"name": "x0", "datatype": "FP64", "shape": [2]}
    inputs[0]["parameters"] = {"binary_data_size": sizes[0]}
    header = json.dumps({"inputs": inputs}).encode()
    length = len(header) if header_length is None else header_length
    body = header + values[: sizes[1]]
    return body, {"inference-header-content-length": str(length)}


@pytest.mark.parametrize(
    ("header_length", "sizes", "words"),
    [
        (None, (16, 16), None),
        (None, (8, 16), ["16", "8"]),
        (None, (16, 12), ["x0", "binary_data_size"]),
        (10**9, (16, 16), ["Inference-Header-Content-Length"]),
        (-1, (16, 16), ["Inference-Header-Content-Length"]),
    ],
)
def test_binary_extension_sizes_are_checked(server, sk_model, header_length, sizes, words):
    body, headers = _binary_request(header_length, sizes)
    reply = httpx.post(f"{server.url}/v2/models/{NAME}/infer", content=body, headers=headers)
    if words is None:
        assert reply.status_code == 200
        return
    assert reply.status_code == 400, reply.text
    for word in words:
        assert word in reply.json()["error"]


@pytest.fixture(scope="module")
def http():
    """Return one HTTP client for a property test's many requests: each bare `httpx.post`
    builds a client and its TLS context first (about 50 ms), a cost that is not under test."""
    with httpx.Client() as client:
        yield client


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=JSON | INFER_REQUEST, header_length=st.none() | st.integers(-5, 400))
@example(
    body={"inputs": [{"name": "x0", "datatype": [], "shape": [1], "data": [1]}]}, header_length=None
)
def test_no_json_body_gets_a_5xx(server, http, body, header_length):
    headers = {"content-type": "application/json"}
    if header_length is not None:
        headers["inference-header-content-length"] = str(header_length)
    reply = http.post(
        f"{server.url}/v2/models/{NAME}/infer", content=json.dumps(body).encode(), headers=headers
    )
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert isinstance(reply.json()["error"], str)
