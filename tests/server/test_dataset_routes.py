"""/api/v1/datasets on a live server with sign-in on, on SQLite and PostgreSQL: nobody without a
token gets in, every signed-in user reads, only an editor by the server's default role (or an
administrator) writes, readers never name runs the caller may not read, and bad input on every
route answers 400 or 404 with a JSON body naming it, never a 500."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from perennia.entities import Dataset, DatasetInput, DatasetVersion, to_dict
from tests.conftest import postgres_database
from tests.server.probe import SECRET, ok, serve

DATASETS = "/api/v1/datasets"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One staged server per backend with `PERENNIA_AUTH_DEFAULT_ROLE=none`: the owner and the
    stranger read datasets but only root (an administrator) may write them."""
    tmp_path = tmp_path_factory.mktemp("datasets")
    if request.param == "sqlite":
        served = serve(f"sqlite:///{tmp_path / 'perennia.db'}", tmp_path)
        yield served
        served.close()
        return
    with postgres_database(request.getfixturevalue("postgres_template")) as uri:
        served = serve(uri, tmp_path)
        yield served
        served.close()


def _body(name: str, seed: str = "", **fields) -> dict:
    digest = hashlib.sha256(f"{name}{seed}".encode()).hexdigest()
    draft = DatasetVersion(name, 0, digest, "file:///blobs", "table", description=SECRET)
    return {**to_dict(draft), **fields}


def _registered(probe, **fields) -> dict:
    """Return version 1 of a new dataset, registered by root."""
    name = f"ds-{uuid.uuid4().hex[:8]}"
    return ok(probe.root.post(f"{DATASETS}/{name}/versions", json=_body(name, **fields)))


def _routes(name: str) -> list[tuple[str, str, dict]]:
    """Return (method, path, request arguments) of every dataset route, for version 1."""
    version = f"{DATASETS}/{name}/versions/1"
    return [
        ("POST", f"{DATASETS}/{name}/versions", {"json": _body(name, "again")}),
        ("GET", DATASETS, {}),
        ("GET", f"{DATASETS}/{name}/versions", {}),
        ("GET", version, {}),
        ("GET", f"{DATASETS}/{name}/resolve", {"params": {"ref": "latest"}}),
        ("POST", f"{version}/tags", {"json": {"key": "k", "value": "v"}}),
        ("DELETE", f"{version}/tags", {"params": {"key": "k"}}),
        ("PUT", f"{DATASETS}/{name}/aliases/prod", {"json": {"version": 1}}),
        ("DELETE", f"{DATASETS}/{name}/aliases/prod", {}),
        ("PUT", f"{version}/contract", {"json": {"contract": {"columns": {}}}}),
        ("GET", f"{version}/derived", {}),
        ("GET", f"{version}/readers", {}),
        ("GET", f"{DATASETS}/{name}/events", {}),
    ]


WRITES = {"POST", "PUT", "DELETE"}


def test_a_caller_without_a_token_is_refused_everywhere(probe) -> None:
    created = _registered(probe)
    with httpx.Client(base_url=probe.url, timeout=30) as anonymous:
        for method, path, arguments in _routes(created["name"]):
            answer = anonymous.request(method, path, **arguments)
            assert answer.status_code == 401, (method, path, answer.text)
            assert SECRET not in answer.text
    assert len(ok(probe.root.get(f"{DATASETS}/{created['name']}/versions"))["versions"]) == 1


def test_a_reader_reads_every_route_but_writes_none(probe) -> None:
    created = _registered(probe)
    name = created["name"]
    for method, path, arguments in _routes(name):
        answer = probe.stranger.request(method, path, **arguments)
        if method in WRITES:
            assert answer.status_code == 403, (method, path, answer.text)
            assert "editor" in answer.json()["message"]
        else:
            assert answer.status_code == 200, (method, path, answer.text)
    assert ok(probe.stranger.get(f"{DATASETS}/{name}/versions/1")) == created
    assert [e["action"] for e in ok(probe.root.get(f"{DATASETS}/{name}/events"))["events"]] == [
        "register"
    ]


def test_an_administrator_uses_every_route_and_is_recorded_as_who_acted(probe) -> None:
    created = _registered(probe, tags={"a": "1"})
    name = created["name"]
    assert (created["version"], created["created_by"], created["tags"]) == (1, "root", {"a": "1"})
    for method, path, arguments in _routes(name):
        answer = probe.root.request(method, path, **arguments)
        assert answer.status_code < 300, (method, path, answer.text)
    again = ok(probe.root.get(f"{DATASETS}/{name}/resolve", params={"ref": "latest"}))
    assert again["version"] == 2 and again["created_by"] == "root"
    assert ok(probe.root.get(f"{DATASETS}/{name}/versions/1"))["contract"] == {"columns": {}}
    events = ok(probe.root.get(f"{DATASETS}/{name}/events"))["events"]
    assert {e["username"] for e in events} == {"root"}
    assert [e["action"] for e in events][-2:] == ["register", "register"]


def test_readers_name_only_runs_the_caller_may_read(probe) -> None:
    created = _registered(probe)
    logged = Dataset("logged", created["digest"], "file:///x", "local", [], 1)
    probe.backing.inputs.log(probe.ids["run"], [DatasetInput(logged, "training")])
    probe.backing.inputs.log(probe.ids["stranger_run"], [DatasetInput(logged, "eval")])
    path = f"{DATASETS}/{created['name']}/versions/1/readers"
    mine = {"run_id": probe.ids["run"], "context": "training"}
    theirs = {"run_id": probe.ids["stranger_run"], "context": "eval"}
    assert ok(probe.owner.get(path))["readers"] == [mine]
    assert ok(probe.stranger.get(path))["readers"] == [theirs]
    assert sorted(ok(probe.root.get(path))["readers"], key=str) == sorted([mine, theirs], key=str)


def test_an_editor_by_default_role_registers_and_is_recorded(tmp_path) -> None:
    served = serve(f"sqlite:///{tmp_path / 'editor.db'}", tmp_path, default_role="editor")
    try:
        created = ok(served.owner.post(f"{DATASETS}/mine/versions", json=_body("mine")))
        assert (created["version"], created["created_by"]) == (1, "owner")
        ok(served.stranger.put(f"{DATASETS}/mine/aliases/prod", json={"version": 1}))
        event = ok(served.owner.get(f"{DATASETS}/mine/events"))["events"][0]
        assert (event["action"], event["username"]) == ("set_alias", "stranger")
    finally:
        served.close()


BAD_BODIES = [
    ({"bogus": 1}, "bogus"),
    ({"kind": "tabel"}, "kind"),
    ({"digest": "xyz"}, "digest"),
    ({"row_count": -1}, "row_count"),
    ({"row_count": 2**70}, "row_count"),
    ({"size_bytes": "lots"}, "size_bytes"),
    ({"schema": {"a": 1}}, "schema"),
    ({"schema": [{"name": "x" * 4_100_000}]}, "schema"),
    ({"source": "sql"}, "source"),
    ({"parents": ["ghost@1"]}, "ghost@1"),
    ({"parents": ["nope"]}, "parent"),
    ({"tags": {"k": 5}}, "tags"),
    ({"contract": [1]}, "contract"),
    ({"description": None}, "description"),
    ({"name": "other"}, "path"),
]


def test_bad_bodies_answer_400_or_404_naming_the_field_and_store_nothing(probe) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    for fields, field in BAD_BODIES:
        body = {**_body(name), **fields}
        answer = probe.root.post(f"{DATASETS}/{name}/versions", json=body)
        assert answer.status_code in (400, 404), (fields, answer.status_code, answer.text[:300])
        assert field in answer.json()["message"], (fields, answer.text[:300])
    missing = {k: v for k, v in _body(name).items() if k != "digest"}
    answer = probe.root.post(f"{DATASETS}/{name}/versions", json=missing)
    assert answer.status_code == 400 and "digest" in answer.json()["message"]
    for body in ("[]", "not json", '"text"'):
        answer = probe.root.post(
            f"{DATASETS}/{name}/versions",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 400, (body, answer.text)
    assert probe.root.get(f"{DATASETS}/{name}/versions").status_code == 404


def test_bad_input_to_every_other_route_answers_400_or_404_never_500(probe) -> None:
    created = _registered(probe)
    name, long = created["name"], "x" * 300
    base = f"{DATASETS}/{name}"
    cases = [
        (probe.root.get(f"{DATASETS}/{long}/versions"), 400, "name"),
        (probe.root.get(f"{DATASETS}/a%40b/versions/1"), 400, "name"),
        (probe.root.get(f"{base}/versions/0"), 400, "version"),
        (probe.root.get(f"{base}/versions/{2**40}"), 400, "version"),
        (probe.root.get(f"{base}/versions/one"), 400, "version"),
        (probe.root.get(f"{base}/versions/2"), 404, "no version 2"),
        (probe.root.get(f"{DATASETS}/ghost/versions/1"), 404, "ghost"),
        (probe.root.get(f"{base}/resolve"), 400, "ref"),
        (probe.root.get(f"{base}/resolve", params={"ref": "a b"}), 400, "reference"),
        (probe.root.get(f"{base}/resolve", params={"ref": "gold"}), 404, "gold"),
        (probe.root.get(f"{base}/resolve", params={"ref": str(2**70)}), 400, "version"),
        (probe.root.get(DATASETS, params={"max_results": 0}), 400, "max_results"),
        (probe.root.get(f"{base}/events", params={"limit": 10**9}), 400, "limit"),
        (probe.root.post(f"{base}/versions/1/tags", json={"key": "k"}), 400, "value"),
        (probe.root.post(f"{base}/versions/1/tags", json={"key": "", "value": "v"}), 400, "key"),
        (probe.root.post(f"{base}/versions/1/tags", json={"key": "k", "value": 5}), 400, "value"),
        (probe.root.post(f"{base}/versions/9/tags", json={"key": "k", "value": "v"}), 404, "9"),
        (probe.root.delete(f"{base}/versions/1/tags", params={"key": "nope"}), 404, "nope"),
        (probe.root.delete(f"{base}/versions/1/tags"), 400, "key"),
        (probe.root.put(f"{base}/aliases/latest", json={"version": 1}), 400, "reserved"),
        (probe.root.put(f"{base}/aliases/42", json={"version": 1}), 400, "reserved"),
        (probe.root.put(f"{base}/aliases/{long}", json={"version": 1}), 400, "alias"),
        (probe.root.put(f"{base}/aliases/prod", json={"version": 2**40}), 400, "version"),
        (probe.root.put(f"{base}/aliases/prod", json={"version": 3}), 404, "no version 3"),
        (probe.root.put(f"{base}/aliases/prod", json={"version": 1, "x": 1}), 400, "x"),
        (probe.root.delete(f"{base}/aliases/prod"), 404, "prod"),
        (probe.root.delete(f"{base}/aliases/latest"), 400, "reserved"),
        (probe.root.delete(f"{base}/aliases/{long}"), 400, "alias"),
        (probe.root.put(f"{base}/versions/1/contract", json={"contract": [1]}), 400, "contract"),
        (probe.root.put(f"{base}/versions/1/contract", json={}), 400, "contract"),
        (probe.root.get(f"{base}/versions/5/derived"), 404, "no version 5"),
        (probe.root.get(f"{base}/versions/0/derived"), 400, "version"),
        (probe.root.get(f"{base}/versions/5/readers"), 404, "no version 5"),
        (probe.root.get(f"{base}/versions/x/readers"), 400, "version"),
        (probe.root.get(f"{base}/events", params={"limit": 0}), 400, "limit"),
        (probe.root.get(f"{DATASETS}/a%40b/events"), 400, "name"),
        (probe.root.get(f"{DATASETS}/ghost/events"), 404, "ghost"),
    ]
    for answer, status, text in cases:
        where = (answer.request.method, str(answer.request.url)[:120], answer.text[:300])
        assert answer.status_code == status, where
        assert text in answer.json()["message"], where
    assert ok(probe.root.get(f"{base}/versions/1")) == created
