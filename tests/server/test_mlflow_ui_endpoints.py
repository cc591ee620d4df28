"""MLflow's UI downloads, logged-model file endpoints, the `mlflow.modelVersions` tag and the
trace refusal, through a live server (sign-in off) and the real mlflow client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402

from perennia.server.mlflow_compat.traces import MESSAGE  # noqa: E402


@pytest.fixture
def client(live_server, monkeypatch):
    url, backing = live_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(url)
    yield mlflow.MlflowClient(url, registry_uri=url), url, backing
    mlflow.set_tracking_uri(None)


def _run_with_files(mlflow_client, tmp_path: Path) -> str:
    eid = mlflow_client.create_experiment("ui")
    run_id = mlflow_client.create_run(eid).info.run_id
    for name, content in (("c.png", b"png"), ("MLmodel", b"flavors: {}"), ("b.pkl", b"\x80")):
        (tmp_path / name).write_bytes(content)
        mlflow_client.log_artifact(run_id, str(tmp_path / name), "dir")
    return run_id


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("c.png", b"png", "image/png"),
        ("MLmodel", b"flavors: {}", "text/plain"),
        ("b.pkl", b"\x80", "application/octet-stream"),
    ],
)
def test_get_artifact_serves_a_runs_file_with_its_guessed_type(
    client, tmp_path, name, content, mime
) -> None:
    mlflow_client, url, _backing = client
    run_id = _run_with_files(mlflow_client, tmp_path)
    got = httpx.get(f"{url}/get-artifact", params={"run_id": run_id, "path": f"dir/{name}"})
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"].split(";")[0] == mime
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert got.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "dir/../../x", "dir//c.png", "%2e%2e/x", ""]
)
def test_ui_downloads_refuse_unsafe_paths_before_any_lookup(client, tmp_path, path) -> None:
    mlflow_client, url, _backing = client
    run_id = _run_with_files(mlflow_client, tmp_path)
    for endpoint, params in (
        ("/get-artifact", {"run_id": run_id}),
        ("/model-versions/get-artifact", {"name": "absent", "version": "1"}),
        ("//model-versions/get-artifact", {"name": "absent", "version": "1"}),
    ):
        got = httpx.get(f"{url}{endpoint}", params={**params, "path": path})
        assert got.status_code == 400, (endpoint, path, got.text)
        assert got.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert got.json()["message"] == "Invalid path"


def test_model_version_files_are_served_from_the_versions_run(client, tmp_path) -> None:
    mlflow_client, url, _backing = client
    run_id = _run_with_files(mlflow_client, tmp_path)
    mlflow_client.create_registered_model("ui-model")
    mlflow_client.create_model_version("ui-model", f"runs:/{run_id}/dir", run_id)
    params = {"name": "ui-model", "version": "1", "path": "c.png"}
    got = httpx.get(f"{url}/model-versions/get-artifact", params=params)
    assert got.status_code == 200 and got.content == b"png"
    assert got.headers["content-type"] == "image/png"
    absent = httpx.get(f"{url}/model-versions/get-artifact", params={**params, "version": "9"})
    assert absent.status_code == 404


def test_logged_model_files_are_listed_and_served(client) -> None:
    mlflow_client, url, _backing = client

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    mlflow.set_experiment("logged-files")
    info = mlflow.pyfunc.log_model(name="model", python_model=Echo())
    for api in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        base = f"{url}{api}/logged-models/{info.model_id}/artifacts"
        listed = httpx.get(f"{base}/directories")
        assert listed.status_code == 200, listed.text
        assert "MLmodel" in [f["path"] for f in listed.json()["files"]]
        got = httpx.get(f"{base}/files", params={"artifact_file_path": "MLmodel"})
        assert got.status_code == 200 and info.model_id in got.text
        bad = httpx.get(f"{base}/files", params={"artifact_file_path": "../MLmodel"})
        assert bad.status_code == 400
    absent = "m-" + "0" * 32
    missing = httpx.get(f"{url}/api/2.0/mlflow/logged-models/{absent}/artifacts/directories")
    assert missing.status_code == 404


def test_registering_a_logged_model_lists_the_version_on_it(client) -> None:
    mlflow_client, _url, _backing = client
    eid = mlflow_client.create_experiment("versions-tag")
    model = mlflow_client.create_logged_model(eid)
    mlflow_client.create_registered_model("tagged")
    for _ in range(2):
        mlflow_client.create_model_version(
            "tagged", model.artifact_location, model_id=model.model_id
        )
    tag = mlflow_client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert json.loads(tag) == [{"name": "tagged", "version": 1}, {"name": "tagged", "version": 2}]


def test_trace_calls_are_refused_with_a_clear_message(client) -> None:
    mlflow_client, url, _backing = client
    eid = mlflow_client.create_experiment("traced")
    with pytest.raises(MlflowException, match="does not store MLflow traces yet") as caught:
        mlflow.search_traces(locations=[eid])
    assert caught.value.error_code == "NOT_IMPLEMENTED"
    for method, path in (
        ("POST", "/api/3.0/mlflow/traces"),
        ("GET", "/api/3.0/mlflow/traces/tr-1"),
        ("POST", "/api/2.0/mlflow/traces/search"),
        ("POST", "/v1/traces"),
    ):
        answer = httpx.request(method, f"{url}{path}", json={})
        assert answer.status_code == 501
        assert answer.json() == {
            "error_code": "NOT_IMPLEMENTED",
            "message": MESSAGE,
            "error_class": "NotImplemented",
        }
