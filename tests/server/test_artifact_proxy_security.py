"""The artifact proxy refuses every traversal spelling and stores nothing for it.

Requests go out over a raw socket (http.client), so the client cannot normalise `..` away before
the server sees it, which is what an attacker's tool would do too.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def run(live_server):
    url, backing = live_server
    eid = backing.experiments.create("proxy")
    run = backing.runs.create(eid)
    return url, backing, eid, run.info.run_id


def _raw(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    try:
        return response.status, json.loads(payload)
    except ValueError:
        return response.status, {"raw": payload[:200]}


@pytest.mark.parametrize(
    "tail",
    [
        "../../../etc/passwd",
        "a/../../x",
        "%2e%2e/%2e%2e/x",
        "%2E%2E%2Fsecret",
        "%252e%252e/x",
        "..%5c..%5cx",
        "a%00b.txt",
        "/etc/passwd",
        "C:/windows/win.ini",
    ],
)
def test_uploads_with_traversal_paths_are_refused_and_store_nothing(run, tail: str) -> None:
    url, backing, eid, run_id = run
    status, body = _raw(url, "PUT", f"{PREFIX}/{eid}/{run_id}/artifacts/{tail}", b"evil")
    assert 400 <= status < 500, (status, body)
    assert body.get("error_code") in {
        "INVALID_PARAMETER_VALUE",
        "ENDPOINT_NOT_FOUND",
        "RESOURCE_DOES_NOT_EXIST",
    }
    assert backing.artifacts.list(run_id) == []


@pytest.mark.parametrize(
    "path",
    [
        "{eid}/{run}/../../../etc/passwd",
        "{eid}/{run}/artifacts/%2e%2e/%2e%2e/x",
        "{eid}/{run}/artifacts/..%2f..%2fx",
    ],
)
def test_downloads_with_traversal_paths_are_refused(run, path: str) -> None:
    url, _backing, eid, run_id = run
    status, body = _raw(url, "GET", f"{PREFIX}/" + path.format(eid=eid, run=run_id))
    assert 400 <= status < 500 and "passwd" not in str(body.get("raw", ""))


def test_a_run_is_only_reachable_under_its_own_experiment(run) -> None:
    url, backing, eid, run_id = run
    other = backing.experiments.create("other")
    status, body = _raw(url, "PUT", f"{PREFIX}/{other}/{run_id}/artifacts/x.txt", b"data")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert backing.artifacts.list(run_id) == []


def test_a_plain_upload_round_trips(run) -> None:
    url, backing, eid, run_id = run
    status, _ = _raw(url, "PUT", f"{PREFIX}/{eid}/{run_id}/artifacts/dir/ok.txt", b"fine")
    assert status == 200
    status, body = _raw(url, "GET", f"{PREFIX}?path={eid}/{run_id}/artifacts/dir")
    assert body == {"files": [{"path": "ok.txt", "is_dir": False, "file_size": 4}]}
    assert [e.path for e in backing.artifacts.list(run_id)] == ["dir/ok.txt"]
