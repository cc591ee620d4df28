"""A `perennia server` process killed with SIGKILL in the middle of a write or an upload.

The probe found that the killed attempt's Idempotency-Key stayed claimed for a day (every retry
got 503) and that its upload spool stayed on disk. Now the claim is a lease the retry takes over,
the write and the key's answer commit together (so the retry applies the batch exactly once),
and abandoned spools are swept when a server starts.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from perennia.store import open_store
from perennia.store.rest.http import HttpSession
from perennia.store.sql import schema as s
from tests.ports import free_port
from tests.server_process import start_server


def _admin_token(uri: str) -> dict[str, str]:
    """Return the Authorization header of an admin created in the store at `uri`."""
    store = open_store(uri)
    store.users.create_user("root", "root-password-1", is_admin=True)
    token = store.users.create_token("root", "kill-test")[1]
    store.close()
    return {"Authorization": f"Bearer {token}"}


def _start(uri: str, home: Path, port: int, **env: str) -> subprocess.Popen:
    args = ["--backend-store-uri", uri, "--workers", "1", "--auth"]
    return start_server(args, home, port=port, env=env)[0]


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")
def test_a_batch_killed_mid_write_is_applied_once_by_the_retry_after_the_lease(
    sql_store_uri: str, tmp_path: Path
) -> None:
    port, key, points = free_port(), uuid.uuid4().hex, 600_000
    env = {"PERENNIA_IDEMPOTENCY_LEASE_SECONDS": "3"}
    auth = _admin_token(sql_store_uri)
    server = _start(sql_store_uri, tmp_path, port, **env)
    store = open_store(sql_store_uri)
    url = f"http://127.0.0.1:{port}"
    try:
        created = httpx.post(f"{url}/api/v1/runs", json={"experiment_id": "0"}, headers=auth)
        run_id = created.json()["info"]["run_id"]
        body = {
            "metrics": {
                "keys": ["loss"] * points,
                "values": [float(i) for i in range(points)],
                "steps": list(range(points)),
                "timestamps": [1] * points,
            }
        }
        path = f"/api/v1/runs/{run_id}/batch"
        headers = {"Idempotency-Key": key, **auth}
        sender = threading.Thread(
            target=lambda: _ignore_errors(
                lambda: httpx.post(url + path, json=body, headers=headers, timeout=120)
            ),
            daemon=True,
        )
        sender.start()
        k = s.idempotency_keys

        def claimed() -> bool:
            with store.engine.connect() as conn:
                return conn.execute(select(k.c.key).where(k.c.key == key)).first() is not None

        _wait_for(claimed, "the first attempt to claim its key")
        server.send_signal(signal.SIGKILL)  # the worker dies while the batch is being written
        server.wait(timeout=30)
        sender.join(timeout=60)
        with store.engine.connect() as conn:
            row = conn.execute(select(k).where(k.c.key == key)).first()
        assert row.status is None, "the batch finished before the kill; make it larger"
        assert store.metrics.history(run_id, "loss") == []  # nothing of it was committed
        server = _start(sql_store_uri, tmp_path, port, **env)
        # The SDK's session retries with the same key: 503 while the dead attempt's lease
        # lasts, then it takes the key over and the batch is applied, once.
        session = HttpSession(url, token=auth["Authorization"].split()[1], retry_seconds=60)
        session.send("POST", path, json=body, headers={"Idempotency-Key": key})
        session.close()
        history = store.metrics.history(run_id, "loss")
        assert [m.step for m in history] == list(range(points))
        replay = httpx.post(url + path, json=body, headers=headers, timeout=120)
        assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
        assert len(store.metrics.history(run_id, "loss")) == points
    finally:
        server.kill()
        server.wait(timeout=30)
        store.close()


def _ignore_errors(call) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server died under it, as intended
        call()


@pytest.mark.slow
def test_a_spool_left_by_a_killed_upload_is_swept_when_a_server_starts(
    sql_store_uri: str, tmp_path: Path
) -> None:
    port, spool = free_port(), tmp_path / "uploads"
    env = {"PERENNIA_UPLOAD_DIR": str(spool), "PERENNIA_UPLOAD_STALE_SECONDS": "1"}
    auth = _admin_token(sql_store_uri)
    server = _start(sql_store_uri, tmp_path, port, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        created = httpx.post(f"{url}/api/v1/runs", json={"experiment_id": "0"}, headers=auth)
        run = created.json()["info"]
        target = f"{url}/api/2.0/mlflow-artifacts/artifacts"
        target += f"/{run['experiment_id']}/{run['run_id']}/artifacts/big.bin"
        stop = threading.Event()

        def slow_body():
            yield b"x" * (4 * 1024 * 1024)
            while not stop.is_set():
                time.sleep(0.05)
                yield b"y" * 1024

        uploader = threading.Thread(
            target=lambda: _ignore_errors(
                lambda: httpx.put(target, content=slow_body(), headers=auth, timeout=120)
            ),
            daemon=True,
        )
        uploader.start()
        _wait_for(
            lambda: any(p.is_file() and p.stat().st_size > 0 for p in spool.rglob("*")),
            "the upload to reach the spool",
        )
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        stop.set()
        uploader.join(timeout=30)
        leftovers = [p for p in spool.iterdir()]
        assert leftovers, "the killed upload left nothing to sweep"
        time.sleep(1.5)  # older than PERENNIA_UPLOAD_STALE_SECONDS
        server = _start(sql_store_uri, tmp_path, port, **env)
        assert list(spool.iterdir()) == []
        # Uploads still work, and leave nothing behind once done.
        assert httpx.put(target, content=b"small", headers=auth).status_code == 200
        assert list(spool.iterdir()) == []
    finally:
        server.kill()
        server.wait(timeout=30)
