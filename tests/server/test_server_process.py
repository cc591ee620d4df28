"""`perennia server` as users start it: a real process, several workers, one PostgreSQL store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from perennia.store import open_store
from tests.server_process import start_server

_CLIENT = """
import sys, perennia
perennia.set_experiment("shared")
with perennia.start_run() as run:
    for step in range(10_000):
        perennia.log_metric("loss", float(step), step=step)
print(run.run_id)
"""


def _start(args: list[str], home: Path) -> tuple[subprocess.Popen, str]:
    return start_server(args, home)


@pytest.mark.xdist_group("heavy")
def test_eight_clients_through_two_workers_on_postgresql_lose_no_point(
    postgres_uri: str, tmp_path: Path
) -> None:
    server, url = _start(["--backend-store-uri", postgres_uri, "--workers", "2"], tmp_path)
    try:
        env = dict(os.environ, PERENNIA_TRACKING_URI=url, PERENNIA_HOME=str(tmp_path / "c"))
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", _CLIENT],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        run_ids = []
        for client in clients:
            out, err = client.communicate(timeout=180)
            assert client.returncode == 0, err[-2000:]
            run_ids.append(out.strip())
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = open_store(postgres_uri)
    for run_id in run_ids:
        assert [m.step for m in store.metrics.history(run_id, "loss")] == list(range(10_000))
        assert store.runs.get(run_id).info.status == "FINISHED"
    store.close()


def test_a_public_address_without_authentication_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perennia.cli.main", "server", "--host", "0.0.0.0"],
        env=dict(os.environ, PERENNIA_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--insecure" in result.stderr and len(result.stderr.strip().splitlines()) == 1


_CLF = re.compile(
    r"^127\.0\.0\.1 - (?P<user>\S+) \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<size>\d+|-)$'
)


def test_the_access_log_prints_one_common_log_format_line_per_request(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'perennia.db'}")
    store.users.create_user("alice", "alice-password-1", is_admin=True)
    store.close()
    uri = f"sqlite:///{tmp_path / 'perennia.db'}"
    server, url = _start(["--backend-store-uri", uri, "--auth", "--access-log"], tmp_path)
    try:
        listed = httpx.get(f"{url}/api/v1/experiments", auth=("alice", "alice-password-1"))
        refused = httpx.get(f"{url}/api/v1/experiments/%22x%0Aforged", auth=("bob", "wrong-pw-1"))
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [_CLF.match(line) for line in stderr.splitlines() if "/api/v1/experiments" in line]
    assert all(lines) and len(lines) == 2, stderr
    assert (lines[0]["user"], lines[0]["request"]) == ("alice", "GET /api/v1/experiments HTTP/1.1")
    assert (lines[0]["status"], lines[0]["size"]) == ("200", str(len(listed.content)))
    assert lines[1]["user"] == "-" and lines[1]["status"] == str(refused.status_code)
    assert "forged" in lines[1]["request"]  # escaped into the same line, not a second one


def test_the_server_works_offline_without_cdn_pages(tmp_path: Path) -> None:
    server, url = _start([], tmp_path)
    try:
        assert httpx.get(f"{url}/docs").status_code == 404
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "Perennia"
    finally:
        server.terminate()
        server.communicate(timeout=30)
