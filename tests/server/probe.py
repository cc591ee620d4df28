"""A signed-in server staged the way the outside probe found it: an admin, an owner of an
experiment and a model, and a stranger with no role on them (`PERENNIA_AUTH_DEFAULT_ROLE=none`).

The owner's data all carries SECRET, so a test can tell whether any answer leaked it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from perennia.config import Settings
from perennia.server.app import create_app
from perennia.store import open_store
from tests.live_server import LiveServer

SECRET = "SECRET-7f3a"
PASSWORDS = {"root": "root-password-1", "owner": "owner-password-1", "stranger": "stranger-pass-1"}
MLFLOW = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass
class Probe:
    """A live server with sign-in on, its backing store, and a client per person."""

    url: str
    backing: object
    server: LiveServer
    app: object  # the FastAPI app behind the middleware
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> httpx.Client:
        clients = self.__dict__.get("clients", {})
        if name in clients:
            return clients[name]
        raise AttributeError(name)

    def close(self) -> None:
        """Stop the server and close every client."""
        for client in self.clients.values():
            client.close()
        self.server.stop()
        self.backing.close()


def ok(response: httpx.Response) -> dict:
    """Return a successful answer's JSON, failing with its body otherwise."""
    assert response.status_code < 300, (response.request.url, response.status_code, response.text)
    return response.json() if response.content else {}


def serve(
    uri: str, tmp_path: Path, *, default_role: str = "none", prepare=None, **overrides
) -> Probe:
    """Return a Probe over a fresh store at `uri`, with the owner's secrets and the stranger's
    own experiment already logged through the server.

    `prepare(fastapi_app, backing)` may add routes before the server starts (tests of the layer
    every route passes through).
    """
    backing = open_store(uri)
    tokens = {}
    for name, password in PASSWORDS.items():
        backing.users.create_user(name, password, is_admin=name == "root")
        tokens[name] = backing.users.create_token(name, "probe")[1]
    settings = Settings.from_env().with_overrides(
        tracking_uri=uri,
        artifacts_uri=str(tmp_path / "server-artifacts"),
        server_auth=True,
        auth_default_role=default_role,
        upload_dir=tmp_path / "uploads",
        **overrides,
    )
    app = create_app(backing, settings)
    if prepare is not None:
        prepare(app.app, backing)
    server = LiveServer(app).start()
    probe = Probe(server.url, backing, server, app.app, tokens=tokens)
    for name, token in tokens.items():
        probe.clients[name] = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    _stage(probe)
    return probe


def _stage(probe: Probe) -> None:
    owner, stranger = probe.clients["owner"], probe.clients["stranger"]
    eid = ok(
        owner.post("/api/v1/experiments", json={"name": f"exp-{SECRET}", "tags": {"note": SECRET}})
    )["experiment_id"]
    run = ok(owner.post("/api/v1/runs", json={"experiment_id": eid, "run_name": f"run-{SECRET}"}))
    run_id = run["info"]["run_id"]
    ok(
        owner.post(
            f"/api/v1/runs/{run_id}/batch",
            json={
                "metrics": {"keys": ["auc"], "values": [0.91], "steps": [0], "timestamps": [1]},
                "params": [{"key": "secret", "value": SECRET}],
                "tags": [],
            },
        )
    )
    content = f"the owner's file: {SECRET}".encode()
    ok(owner.put(f"{PROXY}/{eid}/{run_id}/artifacts/secret.txt", content=content))
    ok(
        owner.post(
            "/api/v1/registered-models", json={"name": f"model-{SECRET}", "description": SECRET}
        )
    )
    ok(
        owner.post(
            f"/api/v1/registered-models/model-{SECRET}/versions",
            json={"source": f"runs:/{run_id}/model"},
        )
    )
    mine = ok(stranger.post("/api/v1/experiments", json={"name": "strangers-own"}))
    stranger_run = ok(stranger.post("/api/v1/runs", json={"experiment_id": mine["experiment_id"]}))
    probe.ids.update(
        experiment=eid,
        run=run_id,
        model=f"model-{SECRET}",
        digest=hashlib.sha256(content).hexdigest(),
        content=content.decode(),
        stranger_experiment=mine["experiment_id"],
        stranger_run=stranger_run["info"]["run_id"],
    )


def leaks(response: httpx.Response, *echoed: str) -> bool:
    """Return whether an answer carries any of the owner's data (beyond `echoed`: what the
    caller itself sent, such as a model's name it asked about)."""
    text = response.text
    for sent in echoed:
        text = text.replace(sent, "")
    return SECRET in text
