"""Artifacts logged by a remote SDK travel through the server, checked by digest both ways."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

import perennia
from tests.conftest import reset_tracking


@pytest.fixture
def remote(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url, backing = live_server
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", url)
    reset_tracking()
    yield url, backing, tmp_path
    reset_tracking()


def test_remote_artifacts_round_trip_and_land_in_the_servers_store(remote) -> None:
    url, backing, tmp_path = remote
    source = tmp_path / "upload"
    (source / "sub").mkdir(parents=True)
    (source / "weights.bin").write_bytes(bytes(range(256)) * 4096)
    (source / "sub" / "notes.txt").write_text("remote notes")
    perennia.set_experiment("remote-artifacts")
    with perennia.start_run() as run:
        perennia.log_artifacts(source, artifact_path="model")
        perennia.log_text("hello", "readme.md")
    client = perennia.Client()
    names = {f.path for f in client.list_artifacts(run.run_id)}
    assert names == {"model", "readme.md"}
    out = Path(client.download_artifacts(run.run_id, "model", tmp_path / "down"))
    assert (out / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()
    assert (out / "sub" / "notes.txt").read_text() == "remote notes"
    # The bytes live in the server's artifact root, not in the client's home.
    digest = hashlib.sha256((source / "weights.bin").read_bytes()).hexdigest()
    server_root = tmp_path / "server-artifacts"
    assert (server_root / "blobs" / digest[:2] / digest[2:]).is_file()
    assert not (tmp_path / "client-home" / "artifacts").exists()
    assert {e.path for e in backing.artifacts.list(run.run_id)} == {
        "model/weights.bin",
        "model/sub/notes.txt",
        "readme.md",
    }


def test_the_server_refuses_bytes_that_do_not_match_their_digest(remote) -> None:
    url, backing, _tmp = remote
    eid = backing.experiments.create("digests")
    run_id = backing.runs.create(eid).info.run_id
    claimed = hashlib.sha256(b"what I said").hexdigest()
    response = httpx.put(f"{url}/api/v1/runs/{run_id}/blobs/{claimed}", content=b"what I sent")
    assert response.status_code == 400 and "nothing stored" in response.json()["message"]
    assert httpx.head(f"{url}/api/v1/runs/{run_id}/blobs/{claimed}").status_code == 404
    bad = httpx.put(f"{url}/api/v1/runs/{run_id}/blobs/..%2f..%2fetc", content=b"x")
    assert bad.status_code in (400, 404)
