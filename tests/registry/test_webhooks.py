"""Registry webhooks: signed deliveries to a real HTTP receiver, retries, claims, admin-only API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from perennia.clock import now_ms
from perennia.errors import InvalidInput
from perennia.registry.webhooks import (
    SIGNATURE_HEADER,
    WebhookDispatcher,
    dispatch_due,
    kick,
    verify_signature,
)
from perennia.store import open_store
from tests.ports import free_port

DAY_MS = 86_400_000


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[int]] = {}  # path -> statuses to answer, then 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                    )
                    queue = receiver.script.get(self.path) or []
                    status = queue.pop(0) if queue else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        """Return the URL of one path on this receiver."""
        return self.base + path

    def on(self, path: str) -> list[dict]:
        """Return the requests received on one path."""
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def sql_store(sql_store_uri: str):
    opened = open_store(sql_store_uri)
    yield opened
    opened.close()


def _register(store, name: str = "churn") -> None:
    store.registry.create_registered_model(name, username="alice")
    store.versions.create_model_version(name, "runs:/x/model", username="alice")


def test_a_registry_change_is_delivered_signed_with_the_webhook_secret(sql_store, receiver):
    hook, secret = sql_store.webhooks.create(receiver.url(), events=["create_model_version"])
    assert secret.startswith("whsec_") and len(secret) > 30
    _register(sql_store)
    assert dispatch_due(sql_store) == {"delivered": 1, "pending": 0, "failed": 0}

    (request,) = receiver.on("/hook")
    assert verify_signature(secret, request["headers"], request["body"])
    assert not verify_signature(
        "whsec_wrong-secret-0123456789", request["headers"], request["body"]
    )
    assert not verify_signature(secret, request["headers"], request["body"] + b" ")
    body = json.loads(request["body"])
    assert body["action"] == "create_model_version"
    assert (body["model_name"], body["version"], body["username"]) == ("churn", 1, "alice")
    assert body["after"]["version"] == 1 and body["before"] is None
    assert request["headers"]["X-Perennia-Event"] == "create_model_version"
    assert request["headers"][SIGNATURE_HEADER].startswith("sha256=")
    (delivery,) = sql_store.webhooks.deliveries(hook.webhook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert dispatch_due(sql_store) == {"delivered": 0, "pending": 0, "failed": 0}
    assert len(receiver.requests) == 1


def test_a_stale_or_tampered_signature_is_refused(sql_store, receiver):
    _hook, secret = sql_store.webhooks.create(receiver.url())
    _register(sql_store)
    dispatch_due(sql_store)
    request = receiver.requests[0]
    sent_at = int(request["headers"]["X-Perennia-Timestamp"])
    assert verify_signature(secret, request["headers"], request["body"], now=sent_at + 60)
    assert not verify_signature(secret, request["headers"], request["body"], now=sent_at + 3600)
    forged = {**request["headers"], "X-Perennia-Timestamp": str(sent_at + 1)}
    assert not verify_signature(secret, forged, request["body"], tolerance=None)


def test_a_failing_receiver_gets_the_delivery_on_the_third_attempt(sql_store, receiver):
    receiver.script["/flaky"] = [500, 500]
    hook, _ = sql_store.webhooks.create(receiver.url("/flaky"), events=["create_registered_model"])
    sql_store.registry.create_registered_model("fraud")
    start = now_ms()
    assert dispatch_due(sql_store, now=start)["pending"] == 1
    # Not due again until its backoff has passed.
    assert dispatch_due(sql_store, now=start) == {"delivered": 0, "pending": 0, "failed": 0}
    (delivery,) = sql_store.webhooks.deliveries(hook.webhook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_time > start
    assert dispatch_due(sql_store, now=start + DAY_MS)["pending"] == 1
    assert dispatch_due(sql_store, now=start + 2 * DAY_MS)["delivered"] == 1
    (delivery,) = sql_store.webhooks.deliveries(hook.webhook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    bodies = {r["body"] for r in receiver.on("/flaky")}
    assert len(receiver.on("/flaky")) == 3 and len(bodies) == 1  # same payload each retry


def test_an_unreachable_url_ends_failed_after_the_last_attempt(sql_store):
    hook, _ = sql_store.webhooks.create(f"http://127.0.0.1:{free_port()}/nobody-listens")
    sql_store.registry.create_registered_model("lost")
    start = now_ms()
    for attempt in range(1, 5):
        assert dispatch_due(sql_store, now=start + attempt * DAY_MS)["pending"] == 1
    assert dispatch_due(sql_store, now=start + 5 * DAY_MS)["failed"] == 1
    (delivery,) = sql_store.webhooks.deliveries(hook.webhook_id, status="failed")
    assert delivery.attempts == 5 and delivery.last_status_code is None
    assert delivery.last_error
    assert dispatch_due(sql_store, now=start + 9 * DAY_MS)["failed"] == 0
    assert not sql_store.webhook_outbox.has_due(start + 9 * DAY_MS)


def test_a_crashed_senders_claim_is_retried_after_its_lease(sql_store, receiver):
    sql_store.webhooks.create(receiver.url())
    sql_store.registry.create_registered_model("leased")
    start = now_ms()
    (lost,) = sql_store.webhook_outbox.claim(start)  # claimed, then its sender dies
    assert sql_store.webhook_outbox.claim(start + 1000) == []
    assert dispatch_due(sql_store, now=start + DAY_MS)["delivered"] == 1
    # The dead sender's late report cannot overwrite the newer attempt's outcome.
    assert sql_store.webhook_outbox.record_attempt(lost, status_code=500, now=start) is None
    (delivery,) = sql_store.webhooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_a_sender_dying_on_the_last_attempt_leaves_the_delivery_failed(sql_store):
    sql_store.webhooks.create("https://ci.example.com/hook")
    sql_store.registry.create_registered_model("doomed")
    start = now_ms()
    assert len(sql_store.webhook_outbox.claim(start, max_attempts=1)) == 1  # its sender dies
    assert sql_store.webhook_outbox.claim(start + DAY_MS, max_attempts=1) == []
    (delivery,) = sql_store.webhooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "stopped" in delivery.last_error


def test_two_dispatchers_never_send_a_delivery_twice(sql_store_uri, receiver):
    setup = open_store(sql_store_uri)
    for path in ("/a", "/b", "/c"):
        setup.webhooks.create(receiver.url(path))
    for index in range(8):
        setup.registry.create_registered_model(f"model-{index}")
    setup.close()
    # Two stores, two engines: as two server processes on one database would be.
    stores = [open_store(sql_store_uri) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(store) -> None:
        try:
            barrier.wait()
            while store.webhook_outbox.has_due():
                dispatch_due(store, limit=3)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    sent = [r["headers"]["X-Perennia-Delivery"] for r in receiver.requests]
    assert len(sent) == 24 and len(set(sent)) == 24
    deliveries = stores[0].webhooks.deliveries(limit=100)
    assert {(d.status, d.attempts) for d in deliveries} == {("delivered", 1)}
    for store in stores:
        store.close()


def test_webhooks_receive_only_their_model_and_actions(sql_store):
    every, _ = sql_store.webhooks.create("https://ci.example.com/all")
    churn, _ = sql_store.webhooks.create("https://ci.example.com/churn", model_name="churn")
    alias, _ = sql_store.webhooks.create(
        "https://ci.example.com/alias", events=["set_alias", "delete_alias"]
    )
    _register(sql_store, "churn")
    _register(sql_store, "fraud")
    sql_store.aliases.set_alias("fraud", "champion", 1, username="bob")
    events = {e.event_id: (e.model_name, e.action) for e in sql_store.registry.events(limit=100)}

    def seen(hook) -> set[tuple[str, str]]:
        return {events[d.event_id] for d in sql_store.webhooks.deliveries(hook.webhook_id)}

    assert seen(every) == set(events.values())
    assert seen(churn) == {("churn", "create_registered_model"), ("churn", "create_model_version")}
    assert seen(alias) == {("fraud", "set_alias")}


def test_deleting_a_webhook_drops_its_queued_deliveries(sql_store):
    hook, _ = sql_store.webhooks.create("https://ci.example.com/gone")
    _register(sql_store)
    assert len(sql_store.webhooks.deliveries(hook.webhook_id)) == 2
    sql_store.webhooks.delete(hook.webhook_id)
    assert sql_store.webhooks.list() == [] and sql_store.webhooks.deliveries() == []
    assert not sql_store.webhook_outbox.has_due()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://ci.example.com/hook", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https://user:secret@ci.example.com/hook", "password"),
        ("https:///no-host", "host"),
        ("https://ci.example.com/" + "a" * 3000, "at most"),
        ("https://ci.example.com/a b", "spaces"),
        ("https://ci.example.com:99999/", "parse"),
        ("", "http"),
    ],
)
def test_bad_urls_are_refused_naming_the_field(sql_store, url, words):
    with pytest.raises(InvalidInput, match=words) as caught:
        sql_store.webhooks.create(url)
    assert "url" in str(caught.value) and "\n" not in str(caught.value)
    assert sql_store.webhooks.list() == []


def test_unknown_actions_and_bad_models_are_refused(sql_store):
    with pytest.raises(InvalidInput, match="events: 'set_alais'"):
        sql_store.webhooks.create("https://ci.example.com/h", events=["set_alais"])
    with pytest.raises(InvalidInput, match="registered model name"):
        sql_store.webhooks.create("https://ci.example.com/h", model_name="")
    with pytest.raises(InvalidInput, match="secret"):
        sql_store.webhooks.create("https://ci.example.com/h", secret="short")


def test_kick_sends_due_deliveries_in_the_background(sql_store, receiver):
    assert kick(sql_store) is None  # nothing due: no thread at all
    sql_store.webhooks.create(receiver.url())
    sql_store.registry.create_registered_model("kicked")
    thread = kick(sql_store)
    assert thread is not None and thread.daemon
    thread.join(60)
    assert len(receiver.requests) == 1
    assert sql_store.webhooks.deliveries()[0].status == "delivered"


def test_the_server_lifespan_runs_the_dispatcher(sqlite_uri, tmp_path, receiver):
    import uvicorn

    from perennia.config import Settings
    from perennia.server.app import create_app

    store = open_store(sqlite_uri)
    store.webhooks.create(receiver.url())
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri, artifacts_uri=str(tmp_path / "art"), webhook_dispatch=True
    )
    config = uvicorn.Config(
        create_app(store, settings), host="127.0.0.1", port=free_port(), lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        store.registry.create_registered_model("served")
        deadline = time.monotonic() + 60
        while store.webhooks.deliveries()[0].status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.should_exit = True
        thread.join(30)
    assert len(receiver.requests) == 1
    assert store.webhooks.deliveries()[0].status == "delivered"
    store.close()


@pytest.fixture
def secured(sqlite_uri: str, tmp_path: Path):
    """Yield (url, store, tokens by user) for a server that requires sign-in."""
    from perennia.config import Settings
    from perennia.server.app import create_app
    from tests.live_server import LiveServer

    store = open_store(sqlite_uri)
    tokens = {}
    for name, admin in (("root", True), ("alice", False)):
        store.users.create_user(name, f"{name}-password", is_admin=admin)
        tokens[name] = store.users.create_token(name, "tests")[1]
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri, artifacts_uri=str(tmp_path / "art"), server_auth=True
    )
    server = LiveServer(create_app(store, settings)).start()
    yield server.url, store, tokens
    server.stop()
    store.close()


def test_only_admins_manage_webhooks_and_the_secret_is_shown_once(secured):
    url, store, tokens = secured
    alice = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['alice']}"})
    body = {"url": "https://ci.example.com/deploy", "events": ["set_alias"]}
    assert alice.post("/api/v1/webhooks", json=body).status_code == 403
    assert alice.get("/api/v1/webhooks").status_code == 403
    assert alice.get("/api/v1/webhook-deliveries").status_code == 403
    assert store.webhooks.list() == []

    admin = open_store(url, token=tokens["root"])
    hook, secret = admin.webhooks.create(body["url"], events=body["events"], model_name="churn")
    assert hook.created_by == "root" and secret.startswith("whsec_")
    listed = httpx.get(
        f"{url}/api/v1/webhooks", headers={"Authorization": f"Bearer {tokens['root']}"}
    )
    assert listed.status_code == 200 and secret not in listed.text and "secret" not in listed.text
    assert admin.webhooks.list() == [hook]
    assert alice.delete(f"/api/v1/webhooks/{hook.webhook_id}").status_code == 403
    _register(store)
    store.aliases.set_alias("churn", "champion", 1)
    (delivery,) = admin.webhooks.deliveries(hook.webhook_id)
    assert delivery.status == "pending"
    assert admin.webhooks.deliveries(status="pending") == [delivery]
    with pytest.raises(InvalidInput, match="url"):
        admin.webhooks.create("ftp://ci.example.com/x")
    admin.webhooks.delete(hook.webhook_id)
    assert admin.webhooks.list() == []
    admin.close()
    alice.close()


def test_cli_creates_lists_and_dispatches_webhooks(sqlite_uri, receiver):
    from typer.testing import CliRunner

    from perennia.cli.main import app

    runner = CliRunner()
    created = runner.invoke(
        app, ["--tracking-uri", sqlite_uri, "webhooks", "create", receiver.url(), "--model", "cli"]
    )
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = runner.invoke(app, ["--tracking-uri", sqlite_uri, "webhooks", "list"])
    assert listed.exit_code == 0 and "/hook" in listed.output and secret not in listed.output
    store = open_store(sqlite_uri)
    store.registry.create_registered_model("cli")
    store.close()
    sent = runner.invoke(app, ["--tracking-uri", sqlite_uri, "webhooks", "dispatch"])
    assert sent.exit_code == 0 and "delivered 1" in sent.output
    assert verify_signature(secret, receiver.requests[0]["headers"], receiver.requests[0]["body"])
    shown = runner.invoke(app, ["--tracking-uri", sqlite_uri, "webhooks", "deliveries"])
    assert "delivered" in shown.output


def test_an_outage_logs_one_warning_line_not_a_traceback_each_tick(tmp_path, caplog):
    store = open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    with store.engine.begin() as conn:  # every dispatch now fails as a lost database would
        conn.exec_driver_sql("DROP TABLE webhook_deliveries")
    caplog.set_level("WARNING", logger="perennia.registry.webhooks")
    dispatcher = WebhookDispatcher(store, interval=0.02).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not caplog.records:
        time.sleep(0.02)
    time.sleep(0.3)  # many more ticks fail in this time
    dispatcher.stop()
    store.close()
    lines = [r for r in caplog.records if r.name == "perennia.registry.webhooks"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "webhook dispatch failed (OperationalError" in lines[0].getMessage()
    assert lines[0].exc_info is None
