"""The unmodified `mlflow` client's registry and MLflow 3 logged models against `perennia server`.

Each test runs what an MLflow user writes (log a model, register it, alias it, load it back)
against a live server on loopback, then checks the same records through Perennia's own
registry behind the server: the MLflow endpoints are an adapter, never a second registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow  # the dev extra installs it: these tests run, never skip
import numpy as np
import pytest
from mlflow.exceptions import MlflowException


def _serve(uri: str, tmp_path: Path) -> Iterator[tuple[str, object]]:
    from perennia.config import Settings
    from perennia.server.app import create_app
    from perennia.store import open_store
    from tests.live_server import LiveServer

    backing = open_store(uri)
    settings = Settings.from_env().with_overrides(
        tracking_uri=uri, artifacts_uri=str(tmp_path / "server-artifacts"), server_auth=False
    )
    server = LiveServer(create_app(backing, settings)).start()
    try:
        yield server.url, backing
    finally:
        server.stop()
        backing.close()


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """Yield (URL, backing store) of a live server over SQLite, then over PostgreSQL."""
    uri = request.getfixturevalue("sqlite_uri" if request.param == "sqlite" else "postgres_uri")
    yield from _serve(uri, tmp_path)


@pytest.fixture
def sqlite_served(sqlite_uri: str, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """Yield (URL, backing store) of a live server over a fresh SQLite file."""
    yield from _serve(sqlite_uri, tmp_path)


def _point_mlflow_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)


@pytest.fixture
def on_server(served, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, object]]:
    """Point mlflow at the (SQLite, then PostgreSQL) server; yield (URL, backing store)."""
    _point_mlflow_at(served[0], monkeypatch)
    yield served
    _reset_mlflow()


@pytest.fixture
def on_sqlite(sqlite_served, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, object]]:
    """Point mlflow at the SQLite-backed server; yield (URL, backing store)."""
    _point_mlflow_at(sqlite_served[0], monkeypatch)
    yield sqlite_served
    _reset_mlflow()


def _reset_mlflow() -> None:
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _fitted_classifier():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    return LogisticRegression().fit(features, labels), features


def test_logged_model_registered_aliased_and_loaded_through_the_server(
    on_server, sql_uri_env
) -> None:
    _url, backing = on_server
    model, features = _fitted_classifier()
    mlflow.set_experiment("registry-users")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="model")
    assert info.model_uri == f"models:/{info.model_id}"
    client = mlflow.MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert (logged.status.to_proto(), logged.source_run_id) == (2, run.info.run_id)  # READY
    assert logged.params["C"] == "1.0"
    found = client.search_logged_models([run.info.experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [info.model_id]

    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "classifier")
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    client.set_registered_model_alias("classifier", "champion", version.version)
    by_id = mlflow.register_model(info.model_uri, "classifier")  # the logged model's own URI
    assert (by_id.version, by_id.run_id, by_id.source) == ("2", run.info.run_id, info.model_uri)

    loaded = mlflow.pyfunc.load_model("models:/classifier@champion")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    again = mlflow.sklearn.load_model("models:/classifier/1")
    np.testing.assert_array_equal(again.predict_proba(features), model.predict_proba(features))

    # The same version, seen through Perennia's own registry and artifact index.
    import perennia.registry

    native = perennia.registry.get_model_version("classifier", 1)
    assert (native.run_id, native.source) == (run.info.run_id, f"models:/{info.model_id}")
    assert backing.aliases.get_version_by_alias("classifier", "champion").version == 1
    stored = backing.logged_models.get(info.model_id)
    assert stored.status == "READY"
    assert stored.artifact_location == f"runs:/{run.info.run_id}/models/{info.model_id}"
    files = {e.path for e in backing.artifacts.list(run.info.run_id)}
    assert f"models/{info.model_id}/MLmodel" in files


@pytest.fixture
def sql_uri_env(on_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point Perennia's own SDK at the database behind the server."""
    monkeypatch.setenv("PERENNIA_TRACKING_URI", on_server[1].uri)


def test_registry_calls_of_the_mlflow_client_change_perennias_registry(on_sqlite) -> None:
    _url, backing = on_sqlite
    client = mlflow.MlflowClient()
    mlflow.set_experiment("crud")
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "model/weights.txt")
    created = client.create_registered_model("fraud", {"team": "risk"}, "detects fraud")
    assert (created.name, created.description, created.tags) == (
        "fraud",
        "detects fraud",
        {"team": "risk"},
    )
    with pytest.raises(MlflowException) as caught:
        client.create_registered_model("fraud")
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.create_registered_model("churn")
    assert {m.name for m in client.search_registered_models("name LIKE 'fr%'")} == {"fraud"}
    assert [m.name for m in client.search_registered_models("name = 'churn'")] == ["churn"]
    assert [m.name for m in client.search_registered_models()] == ["churn", "fraud"]
    client.update_registered_model("fraud", "catches fraud")
    client.set_registered_model_tag("fraud", "tier", "1")
    client.delete_registered_model_tag("fraud", "team")

    source = f"runs:/{run.info.run_id}/model"
    first = client.create_model_version("fraud", source, run.info.run_id, {"k": "v"})
    second = client.create_model_version("fraud", source, run.info.run_id)
    assert (first.version, second.version, first.tags) == ("1", "2", {"k": "v"})
    client.update_model_version("fraud", "1", "first cut")
    client.set_model_version_tag("fraud", "1", "validated", "yes")
    client.delete_model_version_tag("fraud", "1", "k")
    client.set_registered_model_alias("fraud", "champion", "1")
    by_alias = client.get_model_version_by_alias("fraud", "champion")
    assert (by_alias.version, by_alias.description, by_alias.tags) == (
        "1",
        "first cut",
        {"validated": "yes"},
    )
    assert client.get_model_version_download_uri("fraud", "1") == (
        f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts/model"
    )
    versions = client.search_model_versions(f"name = 'fraud' AND run_id = '{run.info.run_id}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    model = client.get_registered_model("fraud")
    assert (model.description, model.tags, model.aliases) == (
        "catches fraud",
        {"tier": "1"},
        {"champion": "1"},
    )
    assert [v.version for v in model.latest_versions] == ["2"]
    with pytest.warns(FutureWarning):  # MLflow deprecated stages; Perennia keeps none
        assert [v.version for v in client.get_latest_versions("fraud")] == ["2"]

    client.delete_registered_model_alias("fraud", "champion")
    client.delete_model_version("fraud", "2")
    client.rename_registered_model("fraud", "fraud-v2")
    assert backing.versions.get_model_version("fraud-v2", 1).description == "first cut"
    actions = [e.action for e in reversed(backing.registry.events())]
    assert actions[-3:] == ["delete_alias", "delete_model_version", "rename_registered_model"]
    client.delete_registered_model("fraud-v2")
    with pytest.raises(MlflowException) as caught:
        client.get_registered_model("fraud-v2")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_logged_model_calls_of_the_mlflow_client(on_sqlite) -> None:
    _url, backing = on_sqlite
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("logged")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(
        experiment_id,
        name="ranker",
        source_run_id=run.info.run_id,
        params={"depth": "3"},
        tags={"team": "search"},
        model_type="sklearn",
    )
    assert (model.name, model.status.to_proto(), model.model_type) == ("ranker", 1, "sklearn")
    assert (
        model.artifact_location
        == f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
    )
    client.log_model_params(model.model_id, {"lr": "0.1"})
    client.set_logged_model_tags(model.model_id, {"stage": "dev", "team": "ranking"})
    client.delete_logged_model_tag(model.model_id, "stage")
    finalized = client.finalize_logged_model(model.model_id, "READY")
    assert finalized.status.to_proto() == 2
    fetched = client.get_logged_model(model.model_id)
    assert fetched.params == {"depth": "3", "lr": "0.1"} and fetched.tags == {"team": "ranking"}
    other = client.create_logged_model(experiment_id, name="other")
    page = client.search_logged_models([experiment_id], max_results=1)
    rest = client.search_logged_models([experiment_id], page_token=page.token)
    assert [m.model_id for m in page] + [m.model_id for m in rest] == [
        other.model_id,
        model.model_id,
    ]
    client.delete_logged_model(other.model_id)
    assert [m.model_id for m in client.search_logged_models([experiment_id])] == [model.model_id]
    with pytest.raises(MlflowException) as caught:
        client.get_logged_model(other.model_id)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert backing.logged_models.get(other.model_id).lifecycle_stage == "deleted"


def test_files_of_a_model_logged_outside_any_run_round_trip(on_sqlite) -> None:
    url, _backing = on_sqlite
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("runless")
    model = client.create_logged_model(experiment_id, name="external")
    answer = httpx.put(
        f"{url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/models/"
        f"{model.model_id}/artifacts/MLmodel",
        content=b"flavors: {}",
    )
    assert answer.status_code == 200, answer.text
    got = httpx.get(
        f"{url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/models/"
        f"{model.model_id}/artifacts/MLmodel"
    )
    assert got.content == b"flavors: {}" and got.headers["content-type"] == "text/plain"


def test_malformed_registry_and_logged_model_requests_get_mlflow_error_codes(on_sqlite) -> None:
    url, _backing = on_sqlite
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("malformed")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(experiment_id, name="m", source_run_id=run.info.run_id)
    api, proxy = f"{url}/api/2.0/mlflow", f"{url}/api/2.0/mlflow-artifacts/artifacts"
    cases = [
        ("POST", f"{api}/registered-models/create", {}, 400, "'name'"),
        ("POST", f"{api}/registered-models/create", [1, 2], 400, ""),
        ("POST", f"{api}/registered-models/create", {"name": "x", "tags": "no"}, 400, "'tags'"),
        ("GET", f"{api}/registered-models/get?name=absent", None, 404, "absent"),
        ("GET", f"{api}/registered-models/search?filter=tags.a%3D1", None, 400, "filter"),
        ("GET", f"{api}/registered-models/search?max_results=many", None, 400, "max_results"),
        ("GET", f"{api}/model-versions/get?name=absent&version=abc", None, 400, "version"),
        ("POST", f"{api}/model-versions/create", {"name": "absent"}, 400, "'source'"),
        ("POST", f"{api}/model-versions/transition-stage", {"name": "a"}, 400, "alias"),
        ("POST", f"{api}/logged-models", {"name": "x"}, 400, "'experiment_id'"),
        ("GET", f"{api}/logged-models/not-an-id", None, 400, "model_id"),
        ("GET", f"{api}/logged-models/m-{'0' * 32}", None, 404, "not found"),
        ("PATCH", f"{api}/logged-models/{model.model_id}", {"status": "DONE"}, 400, "'status'"),
        (
            "POST",
            f"{api}/logged-models/search",
            {"experiment_ids": [experiment_id], "filter": "metrics.x > 1"},
            400,
            "filter",
        ),
        ("POST", f"{api}/logged-models/search", {}, 400, "'experiment_ids'"),
        (
            "POST",
            f"{api}/runs/outputs",
            {"run_id": run.info.run_id, "models": "x"},
            400,
            "'models'",
        ),
        ("PUT", f"{proxy}/{experiment_id}/models/{model.model_id}/other/x", None, 400, "form"),
        ("GET", f"{proxy}/999/models/{model.model_id}/artifacts/MLmodel", None, 404, "999"),
    ]
    with httpx.Client() as http:
        for method, target, body, status, needle in cases:
            sent = (
                http.request(method, target, json=body)
                if body is not None
                else (http.request(method, target, content=b"x" if method == "PUT" else None))
            )
            assert sent.status_code == status, (method, target, sent.text)
            expected = {400: "INVALID_PARAMETER_VALUE", 404: "RESOURCE_DOES_NOT_EXIST"}[status]
            assert sent.json()["error_code"] == expected, (target, sent.text)
            assert needle in sent.json()["message"], (target, sent.text)


def test_logged_model_uploads_with_traversal_paths_are_refused_and_store_nothing(on_sqlite):
    import http.client
    from urllib.parse import urlparse

    url, backing = on_sqlite
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("traversal")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(experiment_id, name="m", source_run_id=run.info.run_id)
    prefix = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/models/{model.model_id}"
    parsed = urlparse(url)
    # Sent over a raw socket, so no client normalises `..` away before the server sees it.
    for tail in (
        "artifacts/../../../etc/passwd",
        "artifacts/a/../../x",
        "artifacts/%2e%2e/x",
        "artifacts/..%5c..%5cx",
        "artifacts/a%00b",
        "artifacts//etc/passwd",
        "../../runs/x",
        f"artifacts/../../{run.info.run_id}/artifacts/x",
    ):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        connection.request("PUT", f"{prefix}/{tail}", body=b"evil")
        status = connection.getresponse().status
        connection.close()
        assert 400 <= status < 500, (tail, status)
    assert backing.artifacts.list(run.info.run_id) == []


def test_registry_changes_record_the_signed_in_user(rest_server, monkeypatch) -> None:
    url, backing, token = rest_server
    _point_mlflow_at(url, monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    try:
        client = mlflow.MlflowClient()
        created = client.create_registered_model("audited")
        client.set_registered_model_tag("audited", "k", "v")
    finally:
        _reset_mlflow()
    assert created.name == "audited"
    assert backing.registry.get_registered_model("audited").owner == "suite-admin"
    assert {e.username for e in backing.registry.events("audited")} == {"suite-admin"}
