"""The native API over a live server: error bodies, request validation, OpenAPI, remote SDK."""

from __future__ import annotations

import httpx
import pytest

import perennia
from perennia.errors import InvalidFilter, NotFound, StoreUnavailable
from perennia.store.rest.store import RestStore


@pytest.fixture
def api(live_server) -> httpx.Client:
    url, _backing = live_server
    with httpx.Client(base_url=url) as client:
        yield client


SUMMARIES = "/api/v1/experiments/dataset-summaries"


def _run(api: httpx.Client) -> str:
    eid = api.post("/api/v1/experiments", json={"name": "api"}).json()["experiment_id"]
    return api.post("/api/v1/runs", json={"experiment_id": eid}).json()["info"]["run_id"]


def test_health_and_openapi_document(api) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    document = api.get("/openapi.json").json()
    paths = document["paths"]
    assert "/api/v1/runs/{run_id}/batch" in paths and "/api/v1/experiments" in paths
    assert document["info"]["title"] == "Perennia"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/api/v1/runs/" + "0" * 32, {}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/api/v1/runs/not-a-run", {}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/api/v1/experiments/999999", {}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/api/v1/experiments", {"content": b"{not json"}, 400, "INVALID_PARAMETER_VALUE"),
        (
            "POST",
            "/api/v1/experiments",
            {"content": b'{"name": "\xff\xfe"}'},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("POST", "/api/v1/experiments", {"json": {"name": 5}}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/api/v1/experiments", {"json": {}}, 400, "INVALID_PARAMETER_VALUE"),
        (
            "POST",
            "/api/v1/experiments",
            {"json": {"name": "x", "nmae": "typo"}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/v1/experiments",
            {"json": {"name": "x" * 100_000}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/v1/runs/search",
            {"json": {"experiment_ids": ["0"], "filter_string": "metrics.a >"}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "/api/v1/nowhere", {}, 404, "ENDPOINT_NOT_FOUND"),
        ("GET", SUMMARIES, {}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", SUMMARIES, {"params": {"experiment_ids": "x"}}, 400, "INVALID_PARAMETER_VALUE"),
        (
            "GET",
            SUMMARIES,
            {"params": {"experiment_ids": "0", "max_results": 0}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/v1/experiments",
            {"params": {"order_by": "-artifact_location"}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/v1/model-versions",
            {"params": {"order_by": "source"}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
    ],
)
def test_bad_requests_get_a_json_error_never_a_crash(api, method, path, kwargs, status, code):
    response = api.request(method, path, **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == code and body["message"]
    assert "Traceback" not in response.text


def test_a_validation_error_names_the_field(api) -> None:
    body = api.post("/api/v1/experiments", json={"name": "x", "nmae": "typo"}).json()
    assert "nmae" in body["message"]
    run_id = _run(api)
    bad = {"metrics": {"keys": ["a"], "values": ["lots"], "steps": [0], "timestamps": [0]}}
    body = api.post(f"/api/v1/runs/{run_id}/batch", json=bad).json()
    assert "metric 'a' value must be a real number" in body["message"]


def test_metric_columns_round_trip_non_finite_values(api) -> None:
    run_id = _run(api)
    batch = {
        "metrics": {
            "keys": ["m"] * 4,
            "values": [1.5, "NaN", "Infinity", "-Infinity"],
            "steps": [0, 1, 2, 3],
            "timestamps": [10, 11, 12, 13],
        }
    }
    assert api.post(f"/api/v1/runs/{run_id}/batch", json=batch).status_code == 200
    history = api.get(f"/api/v1/runs/{run_id}/metrics/history", params={"key": "m"}).json()
    assert [p["value"] for p in history] == [1.5, "NaN", "Infinity", "-Infinity"]


def test_the_rest_store_raises_the_same_error_classes(live_server) -> None:
    store = RestStore(live_server[0])
    with pytest.raises(NotFound):
        store.runs.get("0" * 32)
    with pytest.raises(InvalidFilter) as caught:
        store.runs.search(["0"], "metrics.acc >")
    assert "position 13" in str(caught.value)
    store.close()


def test_an_unreachable_server_is_store_unavailable_after_retries() -> None:
    from tests.ports import free_port

    store = RestStore(f"http://127.0.0.1:{free_port()}", retry_seconds=1)
    store.http.backoff = 0.01
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        store.experiments.get("0")
    store.close()


def test_the_fluent_api_works_remotely_without_code_changes(
    live_server, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import reset_tracking

    url, backing = live_server
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", url)
    reset_tracking()
    try:
        perennia.set_experiment("remote")
        with perennia.start_run(run_name="over-http") as run:
            perennia.log_params({"lr": 0.1})
            for step in range(2_500):
                perennia.log_metric("loss", 1.0 / (step + 1), step=step)
            perennia.set_tag("where", "server")
        frame = perennia.search_runs(filter_string="params.lr = '0.1'")
        assert list(frame["run_name"]) == ["over-http"]
        history = perennia.Client().get_metric_history(run.run_id, "loss")
        assert len(history) == 2_500
    finally:
        reset_tracking()
    # The data is in the database behind the server, where a local program sees it too.
    stored = backing.runs.get(run.run_id)
    assert stored.info.status == "FINISHED" and stored.data.tags["where"] == "server"
    assert len(backing.metrics.history(run.run_id, "loss")) == 2_500


def test_the_rest_store_retries_5xx_answers_then_succeeds() -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from perennia.store.rest.http import HttpSession
    from tests.live_server import LiveServer

    calls = []

    async def flaky(request):
        calls.append(1)
        if len(calls) < 3:
            return JSONResponse({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, 503)
        return JSONResponse({"ok": True})

    server = LiveServer(Starlette(routes=[Route("/x", flaky)])).start()
    try:
        session = HttpSession(server.url, backoff=0.01)
        assert session.request("GET", "/x") == {"ok": True}
        assert len(calls) == 3
        calls.clear()
        session.retries = 1
        with pytest.raises(StoreUnavailable, match="busy"):
            session.request("GET", "/x")
        assert len(calls) == 2
    finally:
        server.stop()
