"""Idempotent writes: a retried request with the same Idempotency-Key is applied once."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from perennia.errors import Conflict, InvalidInput
from perennia.store import open_store
from perennia.store.rest.http import HttpSession
from perennia.store.sql.engine import join, leave
from perennia.store.sql.idempotency import KEEP_MS


def test_a_replayed_write_is_answered_from_the_record_not_applied_twice(live_server) -> None:
    url, backing = live_server
    headers = {"Idempotency-Key": "k" * 32}
    body = {"experiment_id": "0", "run_name": "once"}
    first = httpx.post(f"{url}/api/v1/runs", json=body, headers=headers)
    second = httpx.post(f"{url}/api/v1/runs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
    assert [r.info.run_name for r in backing.runs.search(["0"]).items] == ["once"]
    # The same key for another request is a client bug, refused rather than replayed.
    other = httpx.post(f"{url}/api/v1/runs", json={**body, "run_name": "twice"}, headers=headers)
    assert other.status_code == 400 and "different request" in other.json()["message"]
    bad = httpx.post(f"{url}/api/v1/runs", json=body, headers={"Idempotency-Key": "no"})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["message"]
    # Without a key (the mlflow client sends none) each request is applied.
    httpx.post(f"{url}/api/v1/runs", json=body)
    assert len(backing.runs.search(["0"]).items) == 2


def test_keys_belong_to_their_user(rest_server) -> None:
    url, backing, admin_token = rest_server
    backing.users.create_user("ana", None)
    ana_token = backing.users.create_token("ana", "t")[1]
    experiment = backing.experiments.create("shared")
    backing.access.set_role(experiment, "ana", "editor")
    body = {"experiment_id": experiment, "run_name": "mine"}
    for token in (admin_token, ana_token):
        answer = httpx.post(
            f"{url}/api/v1/runs",
            json=body,
            headers={"Idempotency-Key": "same-key-123", "Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201 and "idempotent-replayed" not in answer.headers
    assert len(backing.runs.search([experiment]).items) == 2


def _finished(keys, key: str, user: str, claim, status: int, body: bytes) -> None:
    unit = keys.open_unit(key, user, claim.token)
    unit.commit(status, body)


def test_the_store_claims_replays_frees_and_expires_keys(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    try:
        keys = store.idempotency
        ana = keys.claim("key-00001", "ana", "d1")
        assert ana.replay is None and ana.token
        with pytest.raises(Conflict, match="is running"):
            keys.claim("key-00001", "ana", "d1")
        bob = keys.claim("key-00001", "bob", "d1")  # another user's key
        assert bob.replay is None
        _finished(keys, "key-00001", "ana", ana, 201, b'{"ok": true}')
        assert keys.claim("key-00001", "ana", "d1").replay == (201, '{"ok": true}')
        with pytest.raises(InvalidInput, match="different request"):
            keys.claim("key-00001", "ana", "d2")
        keys.release("key-00001", "bob", bob.token)  # a server error frees the key for a retry
        assert keys.claim("key-00001", "bob", "d1").replay is None
        from perennia.clock import now_ms

        assert keys.expire(now_ms() + KEEP_MS + 1) == 2
        assert keys.claim("key-00001", "ana", "d1").replay is None
    finally:
        store.close()


def test_an_expired_lease_is_taken_over_and_the_old_attempt_commits_nothing(
    sql_store_uri: str,
) -> None:
    store = open_store(sql_store_uri)
    try:
        keys = store.idempotency
        first = keys.claim("lease-key-1", "ana", "d1", lease_ms=1)
        time.sleep(0.01)  # the first attempt's worker "died": its lease runs out
        second = keys.claim("lease-key-1", "ana", "d1", lease_ms=60_000)
        assert second.replay is None and second.token != first.token
        with pytest.raises(Conflict, match="is running"):  # the new lease is live
            keys.claim("lease-key-1", "ana", "d1")
        # The first attempt comes back to life: its write and its answer roll back together.
        late = keys.open_unit("lease-key-1", "ana", first.token)
        join_token = join(late.unit)
        try:
            store.experiments.create("written-by-the-late-attempt")
        finally:
            leave(join_token)
        with pytest.raises(Conflict, match="took it over"):
            late.commit(201, b"{}")
        assert store.experiments.get_by_name("written-by-the-late-attempt") is None
        # The attempt that holds the lease commits its write with the answer, once.
        unit = keys.open_unit("lease-key-1", "ana", second.token)
        join_token = join(unit.unit)
        try:
            store.experiments.create("written-once")
        finally:
            leave(join_token)
        unit.commit(201, b'{"experiment_id": "1"}')
        assert store.experiments.get_by_name("written-once") is not None
        assert keys.claim("lease-key-1", "ana", "d1").replay == (201, '{"experiment_id": "1"}')
    finally:
        store.close()


class _FlakyOnce(BaseHTTPRequestHandler):
    """Answers the first POST with 503 and the next with 200, recording each Idempotency-Key."""

    keys: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).keys.append(self.headers.get("Idempotency-Key", ""))
        first = len(type(self).keys) == 1
        payload = json.dumps({"message": "busy"} if first else {"ok": True}).encode()
        self.send_response(503 if first else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        return


def test_the_client_sends_one_key_across_the_retries_of_a_write() -> None:
    _FlakyOnce.keys = []
    server = HTTPServer(("127.0.0.1", 0), _FlakyOnce)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        session = HttpSession(f"http://127.0.0.1:{server.server_address[1]}", backoff=0.01)
        assert session.request("POST", "/api/v1/runs", json={"x": 1}) == {"ok": True}
        session.request("POST", "/api/v1/runs", json={"x": 1})
        session.close()
    finally:
        server.shutdown()
    first, retry, next_write = _FlakyOnce.keys
    assert first == retry and len(first) == 32 and next_write != first
