"""Authentication, roles and the audit log on a live server with `--auth`."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from perennia.cli.main import app as cli_app
from perennia.config import Settings
from perennia.server.app import create_app
from perennia.store import open_store
from tests.live_server import LiveServer


@pytest.fixture
def secured(sqlite_uri: str, tmp_path: Path):
    """Yield (url, store, tokens by user) for a server that requires sign-in."""
    store = open_store(sqlite_uri)
    tokens = {}
    for name, admin in (("root", True), ("alice", False), ("bob", False)):
        store.users.create_user(name, f"{name}-password", is_admin=admin)
        tokens[name] = store.users.create_token(name, "tests")[1]
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri, artifacts_uri=str(tmp_path / "art"), server_auth=True
    )
    server = LiveServer(create_app(store, settings)).start()
    yield server.url, store, tokens
    server.stop()
    store.close()


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers)


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_requests_without_valid_credentials_are_refused(secured) -> None:
    url, _store, tokens = secured
    anonymous = _client(url).get("/api/v1/experiments")
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert _client(url, "prn_not-a-real-token").get("/api/v1/experiments").status_code == 401
    assert _client(url, tokens["alice"]).get("/api/v1/experiments").status_code == 200
    assert _client(url).get("/health").status_code == 200


def test_tokens_are_stored_hashed_and_revocation_is_immediate(secured) -> None:
    url, store, tokens = secured
    from sqlalchemy import select

    from perennia.store.sql import schema as s

    with store.engine.connect() as conn:
        stored = [tuple(map(str, row)) for row in conn.execute(select(s.api_tokens)).all()]
    assert all(tokens["alice"] not in field for row in stored for field in row)
    token_id = next(t.token_id for t in store.users.list_tokens("alice"))
    store.users.revoke_token(token_id)
    assert _client(url, tokens["alice"]).get("/api/v1/experiments").status_code == 401


def test_roles_decide_who_reads_writes_and_manages(secured) -> None:
    url, store, tokens = secured
    alice, bob = _client(url, tokens["alice"]), _client(url, tokens["bob"])
    eid = alice.post("/api/v1/experiments", json={"name": "alices"}).json()["experiment_id"]
    run_id = alice.post("/api/v1/runs", json={"experiment_id": eid}).json()["info"]["run_id"]
    batch = {"metrics": {"keys": ["m"], "values": [1.0], "steps": [0], "timestamps": [1]}}
    assert alice.post(f"/api/v1/runs/{run_id}/batch", json=batch).status_code == 200

    # bob holds no role: the default (viewer) lets him read, not write
    assert bob.get(f"/api/v1/runs/{run_id}").status_code == 200
    refused = bob.post(f"/api/v1/runs/{run_id}/batch", json=batch)
    assert refused.status_code == 403 and "editor" in refused.json()["message"]
    assert bob.post("/api/v1/runs", json={"experiment_id": eid}).status_code == 403

    store.access.set_role(eid, "bob", "editor")
    assert bob.post(f"/api/v1/runs/{run_id}/batch", json=batch).status_code == 200
    assert bob.delete(f"/api/v1/experiments/{eid}").status_code == 403  # managing needs manager
    assert alice.delete(f"/api/v1/experiments/{eid}").status_code == 200
    assert len(store.metrics.history(run_id, "m")) == 2


def test_housekeeping_is_for_admins_only(secured) -> None:
    url, _store, tokens = secured
    cutoff = {"older_than_ms": 0}
    assert _client(url, tokens["alice"]).post("/api/v1/runs/purge", json=cutoff).status_code == 403
    assert _client(url, tokens["root"]).post("/api/v1/runs/purge", json=cutoff).status_code == 200


def test_basic_auth_accepts_passwords_and_tokens(secured) -> None:
    url, _store, tokens = secured
    with httpx.Client(base_url=url) as http:
        assert (
            http.get("/api/v1/experiments", headers=_basic("alice", "alice-password")).status_code
            == 200
        )
        assert (
            http.get("/api/v1/experiments", headers=_basic("alice", tokens["alice"])).status_code
            == 200
        )
        assert (
            http.get("/api/v1/experiments", headers=_basic("alice", "wrong-password")).status_code
            == 401
        )
        assert (
            http.get("/api/v1/experiments", headers=_basic("bob", tokens["alice"])).status_code
            == 401
        )


def test_the_mlflow_client_signs_in_with_username_and_password(
    secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    url, store, _tokens = secured
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = mlflow.MlflowClient(tracking_uri=url)
    with pytest.raises(MlflowException):
        client.create_experiment("anonymous")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alice-password")
    eid = client.create_experiment("signed-in")
    run = client.create_run(eid)
    client.log_metric(run.info.run_id, "m", 1.0)
    assert store.runs.get(run.info.run_id).data.metrics == {"m": 1.0}
    assert store.experiments.get_by_name("anonymous") is None


def test_every_mutating_request_is_audited_and_reads_are_not(secured) -> None:
    url, store, tokens = secured
    alice = _client(url, tokens["alice"])
    eid = alice.post("/api/v1/experiments", json={"name": "audited"}).json()["experiment_id"]
    alice.get(f"/api/v1/experiments/{eid}")
    _client(url, tokens["bob"]).post("/api/v1/runs", json={"experiment_id": eid})
    entries = store.audit.list()
    assert [(e.username, e.method, e.path, e.status) for e in entries] == [
        ("bob", "POST", "/api/v1/runs", 403),
        ("alice", "POST", "/api/v1/experiments", 201),
    ]
    assert entries[-1].target == eid


def test_no_secret_reaches_the_server_log(secured, caplog: pytest.LogCaptureFixture) -> None:
    url, _store, tokens = secured
    caplog.set_level(logging.DEBUG)
    _client(url, tokens["alice"] + "x").get("/api/v1/experiments")
    with httpx.Client(base_url=url) as http:
        http.get("/api/v1/experiments", headers=_basic("alice", "alice-password"))
    assert tokens["alice"] not in caplog.text and "alice-password" not in caplog.text


def test_users_tokens_and_audit_from_the_command_line(sqlite_uri: str) -> None:
    runner = CliRunner()
    base = ["--tracking-uri", sqlite_uri]
    created = runner.invoke(
        cli_app, [*base, "users", "create", "carol", "--password", "carol-pass"]
    )
    assert created.exit_code == 0, created.output
    token = runner.invoke(cli_app, [*base, "tokens", "create", "carol", "--name", "ci"])
    secret = token.output.strip().splitlines()[-1]
    store = open_store(sqlite_uri)
    assert store.users.authenticate_token(secret).username == "carol"
    listed = runner.invoke(cli_app, [*base, "tokens", "list"])
    assert "carol" in listed.output and secret not in listed.output
    revoked = runner.invoke(cli_app, [*base, "tokens", "revoke", "1"])
    assert revoked.exit_code == 0 and store.users.authenticate_token(secret) is None
    short = runner.invoke(cli_app, [*base, "users", "create", "dave", "--password", "short"])
    assert short.exit_code != 0
    store.close()


@pytest.mark.parametrize("location", ["/etc/cron.d", "s3://someone-elses-bucket/x", "file:///root"])
def test_clients_cannot_choose_where_the_server_writes(secured, live_server, location) -> None:
    # (Both servers share one database file here; the names below keep their work apart.)
    url, store, tokens = secured
    body = {"name": "sneaky", "artifact_location": location}
    refused = _client(url, tokens["alice"]).post("/api/v1/experiments", json=body)
    assert refused.status_code == 403 and "chosen by the server" in refused.json()["message"]
    assert store.experiments.get_by_name("sneaky") is None
    open_url, open_store_ = live_server  # sign-in off: nobody may choose either
    assert httpx.post(f"{open_url}/api/v1/experiments", json=body).status_code == 403
    mlflow_body = {"name": "sneaky-mlflow", "artifact_location": location}
    created = httpx.post(f"{open_url}/api/2.0/mlflow/experiments/create", json=mlflow_body)
    eid = created.json()["experiment_id"]
    assert open_store_.experiments.get(eid).artifact_location is None  # ignored, never used
    admin_body = {"name": "admins-choice", "artifact_location": location}
    admin = _client(url, tokens["root"]).post("/api/v1/experiments", json=admin_body)
    assert admin.status_code == 201


def test_oversized_bodies_are_refused_before_parsing(live_server) -> None:
    from perennia.server.middleware import MAX_JSON_BODY

    url, _store = live_server
    response = httpx.post(
        f"{url}/api/v1/experiments",
        content=b'{"name": "' + b"x" * (MAX_JSON_BODY + 10) + b'"}',
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
