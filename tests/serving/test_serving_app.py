"""The inference app around the protocols: every prediction logged exactly once under concurrent
load and through shutdown, feedback joined by prediction id, Prometheus metrics, bearer-token
sign-in, and a full log queue that costs predictions their log rows but never their answers."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from perennia.serving.config import ServeConfig
from tests.serving.conftest import NAME, mlflow_body, oip_inputs, training_frame
from tests.serving.strategies import JSON, SCORING_REQUEST


def send(client: httpx.Client, url: str, rows, oip: bool) -> httpx.Response:
    """Return the answer to `rows` sent over OIP or MLflow's /invocations."""
    if oip:
        return client.post(f"{url}/v2/models/{NAME}/infer", json={"inputs": oip_inputs(rows)})
    return client.post(f"{url}/invocations", json=mlflow_body(rows))


def expected_ids(answers: list[tuple[str, int]]) -> set[str]:
    """Return the prediction ids (request id, row) the answered requests must have logged."""
    return {f"{request_id}-{row}" for request_id, n in answers for row in range(n)}


@pytest.mark.slow
def test_every_prediction_is_logged_exactly_once_under_concurrent_load(
    sk_package, serve_app, tmp_path
):
    location = str(tmp_path / "predlog")
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location))
    frame, _ = training_frame(n=200, seed=3)

    def client_thread(index: int) -> list[tuple[int, str | None, int]]:
        answers = []
        with httpx.Client(timeout=60) as client:
            for count in range(80):
                n = 1 + (index + count) % 3
                start = (index * 7 + count) % 190
                reply = send(client, app.url, frame.iloc[start : start + n], count % 2 == 1)
                answers.append((reply.status_code, reply.headers.get("perennia-request-id"), n))
        return answers

    with ThreadPoolExecutor(12) as pool:
        answers = [a for chunk in pool.map(client_thread, range(12)) for a in chunk]
    app.stop()  # flushes the log

    assert len(answers) == 12 * 80
    assert {status for status, _, _ in answers} == {200}
    assert all(request_id for _, request_id, _ in answers)
    from perennia.data.predlog import read_predictions

    log = read_predictions(location)
    ids = log["prediction_id"].to_pylist()
    assert log.num_rows == sum(n for _, _, n in answers)
    assert len(set(ids)) == len(ids)
    assert set(ids) == expected_ids([(request_id, n) for _, request_id, n in answers])
    pairs = zip(ids, log["request_id"].to_pylist(), strict=True)
    assert all(pid.rsplit("-", 1)[0] == rid for pid, rid in pairs)
    assert all(log["ok"].to_pylist())


@pytest.fixture
def logged(sk_package, serve_app, tmp_path):
    """Return (app, log location) of a server keeping a prediction log."""
    location = str(tmp_path / "predlog")
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location))
    return app, location


def test_feedback_by_prediction_id_is_joined_to_the_log(logged, sk_model):
    from perennia.data.predlog import join_feedback, read_feedback, read_predictions

    app, location = logged
    model, frame = sk_model
    rows = frame.iloc[:4]
    reply = httpx.post(f"{app.url}/invocations", json=mlflow_body(rows))
    request_id = reply.headers["perennia-request-id"]
    ids = [f"{request_id}-{row}" for row in range(4)]
    labels = [1, 0, 1, 1]
    feedback = {
        "feedback": [
            {"prediction_id": i, "ground_truth": y} for i, y in zip(ids, labels, strict=True)
        ]
    }
    recorded = httpx.post(f"{app.url}/feedback", json=feedback)
    assert recorded.status_code == 200
    assert recorded.json() == {"recorded": 4}
    single = {"prediction_id": ids[0], "ground_truth": 0}  # a correction: the latest wins
    assert httpx.post(f"{app.url}/feedback", json=single).json() == {"recorded": 1}
    assert app.state.log.flush(timeout=30)

    truth = read_feedback(location)
    assert dict(
        zip(truth["prediction_id"].to_pylist(), truth["ground_truth"].to_pylist(), strict=True)
    ) == {
        ids[0]: 0.0,
        ids[1]: 0.0,
        ids[2]: 1.0,
        ids[3]: 1.0,
    }
    joined = join_feedback(read_predictions(location), truth).to_pandas().set_index("prediction_id")
    assert joined.loc[ids, "ground_truth"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert joined.loc[ids, "output.prediction"].tolist() == model.predict(rows).tolist()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"feedback": [{"ground_truth": 1}]}', ["prediction_id"]),
        (b'{"prediction_id": "abc-0"}', ["ground_truth"]),
        (b'{"feedback": []}', ["at least one"]),
        (b'{"prediction_id": "abc-0", "ground_truth": NaN}', ["NaN"]),
        (b'{"prediction_id": 7, "ground_truth": 1}', ["prediction id"]),
        (b"label=1", ["JSON"]),
        (b"", ["feedback"]),
    ],
)
def test_bad_feedback_is_refused_with_400(logged, body, words):
    app, _ = logged
    reply = httpx.post(f"{app.url}/feedback", content=body)
    assert reply.status_code == 400, reply.text
    for word in words:
        assert word.lower() in reply.json()["error"].lower()


def test_feedback_without_a_prediction_log_is_refused(sk_package, serve_app):
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME))
    reply = httpx.post(f"{app.url}/feedback", json={"prediction_id": "a-0", "ground_truth": 1})
    assert reply.status_code == 400
    assert "log" in reply.json()["error"]


def scrape(url: str) -> dict[str, list]:
    """Return /metrics as {family name: samples}, parsed by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    reply = httpx.get(f"{url}/metrics")
    assert reply.status_code == 200
    return {f.name: f.samples for f in text_string_to_metric_families(reply.text)}


def value(samples, name: str, **labels) -> float:
    """Return the sum of the samples called `name` whose labels include `labels`."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_by_variant_status_and_protocol(sk_package, serve_app, sk_model):
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME))
    frame = sk_model[1]
    with httpx.Client() as client:
        for n in (1, 2, 3):
            assert send(client, app.url, frame.iloc[:n], oip=False).status_code == 200
        assert send(client, app.url, frame.iloc[:5], oip=True).status_code == 200
        bad = {"dataframe_split": {"columns": ["x0"], "data": [[1.0]]}}
        assert client.post(f"{app.url}/invocations", json=bad).status_code == 400
        not_json = client.post(f"{app.url}/v2/models/{NAME}/infer", content=b"{")
        assert not_json.status_code == 400

    families = scrape(app.url)
    requests = families["perennia_requests"]
    # `model` is the package's own name; the endpoint's name (NAME) is only the URL's.
    labels = {"model": sk_package.name, "variant": "default"}
    assert (
        value(requests, "perennia_requests_total", status="200", protocol="mlflow", **labels) == 3
    )
    assert value(requests, "perennia_requests_total", status="200", protocol="oip", **labels) == 1
    assert (
        value(requests, "perennia_requests_total", status="400", protocol="mlflow", **labels) == 1
    )
    assert value(requests, "perennia_requests_total", status="400", protocol="oip", **labels) == 1
    errors = families["perennia_request_errors"]
    assert value(errors, "perennia_request_errors_total", kind="invalid_input", **labels) == 2
    latency = families["perennia_request_latency_seconds"]
    assert value(latency, "perennia_request_latency_seconds_count", **labels) == 6
    batches = families["perennia_batch_size"]
    # Sequential requests run one batch each: 1, 2, 3 and 5 rows.
    assert value(batches, "perennia_batch_size_count", model=sk_package.name) == 4
    assert value(batches, "perennia_batch_size_sum", model=sk_package.name) == 11
    assert value(batches, "perennia_batch_size_bucket", model=sk_package.name, le="2.0") == 2
    loaded = families["perennia_model_loaded"]
    assert value(loaded, "perennia_model_loaded", variant="default") == 1


def test_sign_in_needs_a_live_token_on_prediction_routes(secured, sk_model):
    app, token = secured
    rows = sk_model[1].iloc[:2]
    calls = [
        ("POST", "/invocations", mlflow_body(rows)),
        ("POST", f"/v2/models/{NAME}/infer", {"inputs": oip_inputs(rows)}),
        ("GET", f"/v2/models/{NAME}", None),
    ]
    for method, path, body in calls:
        url = f"{app.url}{path}"
        anonymous = httpx.request(method, url, json=body)
        assert anonymous.status_code == 401, path
        wrong = httpx.request(method, url, json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401, path
        basic = httpx.request(method, url, json=body, headers={"authorization": "Basic YTpi"})
        assert basic.status_code == 401, path
        good = httpx.request(method, url, json=body, headers={"authorization": f"Bearer {token}"})
        assert good.status_code == 200, path
    assert "Bearer" in anonymous.json()["error"]


def test_sign_in_leaves_health_probes_open(secured):
    app, _ = secured
    for path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
        assert httpx.get(f"{app.url}{path}").status_code == 200, path


def test_a_full_log_queue_drops_log_rows_but_never_an_answer(
    sk_package, serve_app, tmp_path, sk_model
):
    # A queue of one row cannot take any batch of two rows: every log record is refused.
    location = str(tmp_path / "predlog")
    config = ServeConfig(
        model_uri=str(sk_package), name=NAME, log_location=location, log_queue_rows=1
    )
    app = serve_app(config)
    model, frame = sk_model

    def call(index: int) -> tuple[int, list]:
        rows = frame.iloc[index : index + 2]
        with httpx.Client(timeout=60) as client:
            reply = send(client, app.url, rows, oip=index % 2 == 0)
        if reply.status_code != 200:
            return reply.status_code, []
        if index % 2 == 0:
            return 200, reply.json()["outputs"][0]["data"]
        return 200, reply.json()["predictions"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(40)))
    assert [status for status, _ in answers] == [200] * 40
    for index, (_, predictions) in enumerate(answers):
        assert predictions == model.predict(frame.iloc[index : index + 2]).tolist()
    assert app.state.log.dropped_rows == 80
    assert (
        value(
            scrape(app.url)["perennia_prediction_log_dropped"],
            "perennia_prediction_log_dropped_total",
        )
        == 80
    )
    app.stop()
    from perennia.data.predlog import read_predictions

    assert read_predictions(location).num_rows == 0


GATE = threading.Event()  # predict waits on it: requests stay in flight until the test opens it
ENTERED = threading.Event()  # set once a predict call has started


class GatedPipeline:
    """A fitted pipeline whose predict waits for GATE (pickled by reference to this module)."""

    def __init__(self, model) -> None:
        self.model = model

    def predict(self, frame):
        """Return the pipeline's predictions once GATE is open."""
        ENTERED.set()
        if not GATE.wait(60):
            raise RuntimeError("the test never opened the gate")
        return self.model.predict(frame)


@pytest.fixture
def gated_package(tmp_path, sk_model):
    """Return the folder of a python_function package wrapping the pipeline in GatedPipeline."""
    import perennia.models

    model, frame = sk_model
    GATE.set()  # the signature is inferred by predicting the example
    folder = tmp_path / "gated"
    perennia.models.save(
        GatedPipeline(model), folder, signature="infer", input_example=frame.iloc[:5]
    )
    GATE.clear()
    ENTERED.clear()
    yield folder
    GATE.set()  # never leave a server thread waiting


def _refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/ping", timeout=1)
    except httpx.TransportError:
        return True
    return False


def test_requests_in_flight_at_shutdown_are_answered_and_logged(
    gated_package, serve_app, tmp_path, sk_model
):
    from tests.serving.deployment_helpers import wait_for

    location = str(tmp_path / "predlog")
    config = ServeConfig(
        model_uri=str(gated_package), name=NAME, log_location=location, allow_pickle=True
    )
    app = serve_app(config)
    model, frame = sk_model
    batcher = app.state.pool.endpoint.live[0].batcher
    pool = ThreadPoolExecutor(6)

    def call(index: int) -> tuple[int, str | None, list]:
        rows = frame.iloc[index : index + 3]
        with httpx.Client(timeout=90) as client:
            reply = send(client, app.url, rows, oip=index % 2 == 1)
        body = reply.json()
        predictions = body["outputs"][0]["data"] if index % 2 else body.get("predictions")
        return reply.status_code, reply.headers.get("perennia-request-id"), predictions

    futures = [pool.submit(call, index) for index in range(6)]
    # One batch is inside predict, the rest queue behind it: all six requests are in flight.
    wait_for(lambda: ENTERED.is_set() and batcher.stats()["requests"] == 6)
    stopper = threading.Thread(target=app.stop)
    stopper.start()
    wait_for(lambda: _refuses_connections(app.url))  # shutdown has begun
    GATE.set()
    answers = [future.result(timeout=90) for future in futures]
    stopper.join(timeout=90)
    pool.shutdown()

    assert [status for status, _, _ in answers] == [200] * 6
    for index, (_, _, predictions) in enumerate(answers):
        assert predictions == model.predict(frame.iloc[index : index + 3]).tolist()
    from perennia.data.predlog import read_predictions

    log = read_predictions(location)
    assert set(log["prediction_id"].to_pylist()) == expected_ids([(a[1], 3) for a in answers])
    assert log.num_rows == 18


@pytest.fixture(scope="module")
def shared(sk_package, tmp_path_factory):
    """Return a live app with a prediction log, shared by a module's property tests."""
    from tests.serving.conftest import ServingApp

    location = str(tmp_path_factory.mktemp("fuzz") / "predlog")
    app = ServingApp(ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location))
    yield app.start()
    app.stop()


@pytest.fixture(scope="module")
def http():
    """Return one HTTP client for a property test's many requests: each bare `httpx.post`
    builds a client and its TLS context first (about 50 ms), a cost that is not under test."""
    with httpx.Client() as client:
        yield client


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=JSON | SCORING_REQUEST)
@example(body={"dataframe_split": {"columns": ["x0", []], "data": [{}]}})
def test_no_json_body_on_invocations_gets_a_5xx(shared, http, body):
    reply = http.post(
        f"{shared.url}/invocations",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert reply.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


FEEDBACK_ITEM = st.fixed_dictionaries(
    {"prediction_id": st.text(max_size=3) | JSON, "ground_truth": JSON}
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=JSON | FEEDBACK_ITEM | st.fixed_dictionaries({"feedback": st.lists(FEEDBACK_ITEM)}))
def test_no_json_body_on_feedback_gets_a_5xx(shared, http, body):
    reply = http.post(f"{shared.url}/feedback", content=json.dumps(body).encode())
    assert reply.status_code in (200, 400), reply.text
