"""/api/v1/monitors on a live server with sign-in on, on SQLite and PostgreSQL: nobody without a
token gets in, every signed-in user reads monitors, runs and points, only an editor by the
server's default role (or an administrator) writes, only administrators claim and release, and
bad input on every route answers 400 or 404 with a JSON body naming it, never a 500."""

from __future__ import annotations

import uuid

import httpx
import pytest

from perennia.entities import Monitor, to_dict
from tests.conftest import postgres_database
from tests.server.probe import SECRET, ok, serve

MONITORS = "/api/v1/monitors"
HOUR = 3_600_000


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One staged server per backend with `PERENNIA_AUTH_DEFAULT_ROLE=none`: the owner and the
    stranger read monitors but only root (an administrator) may write them."""
    tmp_path = tmp_path_factory.mktemp("monitors")
    if request.param == "sqlite":
        served = serve(f"sqlite:///{tmp_path / 'perennia.db'}", tmp_path)
        yield served
        served.close()
        return
    with postgres_database(request.getfixturevalue("postgres_template")) as uri:
        served = serve(uri, tmp_path)
        yield served
        served.close()


def _monitor(name: str, **fields) -> dict:
    draft = Monitor(name, "datasets:/train@1", HOUR, schedule_ms=HOUR, description=SECRET)
    return {**to_dict(draft), **fields}


def _created(client: httpx.Client, **fields) -> dict:
    """Return a new monitor, created through `client`."""
    name = f"mon-{uuid.uuid4().hex[:8]}"
    return ok(client.post(MONITORS, json={"monitor": _monitor(name, **fields)}))


def _window(name: str, start: int = 0, **run) -> dict:
    body = {
        "monitor": name,
        "window_start_ms": start,
        "window_end_ms": start + HOUR,
        "computed_ms": start + HOUR + 1,
        "status": "ok",
        "summary": {"rows": 2},
        "error": None,
    }
    return {
        "run": {**body, **run},
        "keys": ["rows", "psi"],
        "values": [2, None],
        "last_window_end_ms": start + HOUR,
    }


def _routes(name: str) -> list[tuple[str, str, dict]]:
    """Return (method, path, request arguments) of every monitor route for monitor `name`."""
    one = f"{MONITORS}/{name}"
    return [
        ("POST", MONITORS, {"json": {"monitor": _monitor(f"{name}-2")}}),
        ("GET", MONITORS, {}),
        ("GET", one, {}),
        ("PATCH", one, {"json": {"description": "changed"}}),
        ("POST", f"{one}/windows", {"json": _window(name)}),
        ("GET", f"{one}/points", {"params": {"keys": ["rows"]}}),
        ("GET", f"{one}/runs", {}),
        ("POST", f"{MONITORS}/claim-due", {"json": {"now_ms": 0, "owner": "r1"}}),
        ("POST", f"{one}/release", {"json": {"owner": "r1"}}),
        ("DELETE", one, {}),
    ]


WRITES = {"POST", "PATCH", "DELETE"}
ADMIN_ONLY = ("/claim-due", "/release")


def test_a_caller_without_a_token_is_refused_everywhere(probe) -> None:
    created = _created(probe.root)
    with httpx.Client(base_url=probe.url, timeout=30) as anonymous:
        for method, path, arguments in _routes(created["name"]):
            answer = anonymous.request(method, path, **arguments)
            assert answer.status_code == 401, (method, path, answer.text)
            assert SECRET not in answer.text
    assert ok(probe.root.get(f"{MONITORS}/{created['name']}")) == created


def test_a_reader_reads_every_route_but_writes_none(probe) -> None:
    created = _created(probe.root)
    name = created["name"]
    ok(probe.root.post(f"{MONITORS}/{name}/windows", json=_window(name)))
    for method, path, arguments in _routes(name):
        answer = probe.stranger.request(method, path, **arguments)
        if path.endswith(ADMIN_ONLY):
            assert answer.status_code == 403, (method, path, answer.text)
            assert "not an administrator" in answer.json()["message"]
        elif method in WRITES:
            assert answer.status_code == 403, (method, path, answer.text)
            assert "editor" in answer.json()["message"]
        else:
            assert answer.status_code == 200, (method, path, answer.text)
    assert ok(probe.stranger.get(f"{MONITORS}/{name}")) == {**created, "last_window_end_ms": HOUR}
    points = ok(probe.owner.get(f"{MONITORS}/{name}/points"))["points"]
    assert [(p["key"], p["value"]) for p in points] == [("psi", None), ("rows", 2.0)]
    assert [r["summary"] for r in ok(probe.owner.get(f"{MONITORS}/{name}/runs"))["runs"]] == [
        {"rows": 2}
    ]


def test_an_administrator_uses_every_route_and_is_recorded_as_creator(probe) -> None:
    created = _created(probe.root, created_by="mallory")
    name = created["name"]
    assert (created["created_by"], created["window_ms"]) == ("root", HOUR)
    for method, path, arguments in _routes(name):
        answer = probe.root.request(method, path, **arguments)
        assert answer.status_code < 300, (method, path, answer.text)
    assert probe.root.get(f"{MONITORS}/{name}").status_code == 404
    assert ok(probe.root.get(f"{MONITORS}/{name}-2"))["created_by"] == "root"


def test_an_editor_by_default_role_writes_but_does_not_claim(tmp_path) -> None:
    served = serve(f"sqlite:///{tmp_path / 'editor.db'}", tmp_path, default_role="editor")
    try:
        created = _created(served.owner)
        name = created["name"]
        assert created["created_by"] == "owner"
        ok(served.stranger.patch(f"{MONITORS}/{name}", json={"schedule_ms": None}))
        ok(served.stranger.post(f"{MONITORS}/{name}/windows", json=_window(name)))
        assert ok(served.owner.get(f"{MONITORS}/{name}"))["schedule_ms"] is None
        claim = served.owner.post(f"{MONITORS}/claim-due", json={"now_ms": 0, "owner": "x"})
        assert claim.status_code == 403
        ok(served.stranger.delete(f"{MONITORS}/{name}"))
    finally:
        served.close()


def test_a_window_recorded_again_replaces_it_over_http(probe) -> None:
    name = _created(probe.root)["name"]
    ok(probe.root.post(f"{MONITORS}/{name}/windows", json=_window(name)))
    again = {**_window(name), "keys": ["rows"], "values": [5.5]}
    ok(probe.root.post(f"{MONITORS}/{name}/windows", json=again))
    points = ok(probe.root.get(f"{MONITORS}/{name}/points"))["points"]
    assert [(p["key"], p["value"], p["window_end_ms"]) for p in points] == [("rows", 5.5, HOUR)]
    assert len(ok(probe.root.get(f"{MONITORS}/{name}/runs"))["runs"]) == 1
    assert ok(probe.root.get(f"{MONITORS}/{name}"))["last_window_end_ms"] == HOUR


def test_claims_and_releases_over_http_hand_each_monitor_to_one_owner(probe) -> None:
    name = _created(probe.root, next_run_ms=1_000)["name"]
    body = {"now_ms": 2_000, "owner": "r1", "lease_ms": 60_000, "limit": 1000}
    claimed = ok(probe.root.post(f"{MONITORS}/claim-due", json=body))["monitors"]
    assert name in [m["name"] for m in claimed]
    mine = next(m for m in claimed if m["name"] == name)
    assert (mine["lease_owner"], mine["lease_until_ms"]) == ("r1", 62_000)
    again = ok(probe.root.post(f"{MONITORS}/claim-due", json={**body, "owner": "r2"}))
    assert name not in [m["name"] for m in again["monitors"]]
    release = f"{MONITORS}/{name}/release"
    assert ok(probe.root.post(release, json={"owner": "r2"})) == {"released": False}
    answer = ok(probe.root.post(release, json={"owner": "r1", "next_run_ms": 5}))
    assert answer == {"released": True}
    assert ok(probe.root.get(f"{MONITORS}/{name}"))["next_run_ms"] == 5


BAD_MONITORS = [
    ({"bogus": 1}, "bogus"),
    ({"name": ""}, "monitor name"),
    ({"name": "../etc"}, "monitor name"),
    ({"name": "a/b"}, "monitor name"),
    ({"name": "x" * 300}, "monitor name"),
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
    ({"window_ms": 0}, "window_ms"),
    ({"window_ms": 2**70}, "window_ms"),
    ({"window_ms": "lots"}, "window_ms"),
    ({"window_ms": [1]}, "window_ms"),
    ({"window_ms": True}, "window_ms"),
    ({"window_ms": "3600000"}, "window_ms"),
    ({"window_ms": 3600000.0}, "window_ms"),
    ({"model_name": "m", "model_version": "3"}, "model_version"),
    ({"schedule_ms": False}, "schedule_ms"),
    ({"schedule_ms": -1}, "schedule_ms"),
    ({"schedule_ms": 10**15}, "schedule_ms"),
    ({"reference": ""}, "reference"),
    ({"reference": "sha256:zz"}, "sha256"),
    ({"reference": "x" * 5000}, "reference"),
    ({"reference": None}, "reference"),
    ({"config": [1]}, "config"),
    ({"config": "x"}, "config"),
    ({"config": {"big": "x" * 70_000}}, "config"),
    ({"deployment": "a/b"}, "deployment name"),
    ({"model_version": 3}, "model_name"),
    ({"model_name": "m", "model_version": 2**40}, "model_version"),
    ({"description": None}, "description"),
    ({"next_run_ms": -5}, "next_run_ms"),
]


def test_bad_monitors_answer_400_naming_the_field_and_store_nothing(probe) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    for fields, field in BAD_MONITORS:
        body = {"monitor": {**_monitor(name), **fields}}
        answer = probe.root.post(MONITORS, json=body)
        assert answer.status_code == 400, (fields, answer.status_code, answer.text[:300])
        assert field in answer.json()["message"], (fields, answer.text[:300])
    missing = {k: v for k, v in _monitor(name).items() if k != "reference"}
    answer = probe.root.post(MONITORS, json={"monitor": missing})
    assert answer.status_code == 400 and "reference" in answer.json()["message"]
    for body in ("[]", "not json", '"text"', "{}", '{"monitor": 5}'):
        answer = probe.root.post(
            MONITORS, content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400, (body, answer.text)
    answer = probe.root.post(MONITORS, json={"monitor": _monitor(name), "extra": 1})
    assert answer.status_code == 400 and "extra" in answer.json()["message"]
    assert probe.root.get(f"{MONITORS}/{name}").status_code == 404


def test_a_taken_name_answers_409(probe) -> None:
    created = _created(probe.root)
    answer = probe.root.post(MONITORS, json={"monitor": _monitor(created["name"])})
    assert answer.status_code == 409 and "already exists" in answer.json()["message"]


def test_bad_input_to_every_other_route_answers_400_or_404_never_500(probe) -> None:
    name = _created(probe.root)["name"]
    one, long = f"{MONITORS}/{name}", "x" * 300
    window = _window(name)
    claim = {"now_ms": 0, "owner": "r1"}
    cases = [
        (probe.root.get(f"{MONITORS}/{long}"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/%2E%2E"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/a%40b/points"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/-x/runs"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/ghost"), 404, "ghost"),
        (probe.root.get(f"{MONITORS}/ghost/points"), 404, "ghost"),
        (probe.root.delete(f"{MONITORS}/ghost"), 404, "ghost"),
        (probe.root.delete(f"{MONITORS}/%2E%2E"), 400, "monitor name"),
        (probe.root.get(MONITORS, params={"max_results": 0}), 400, "max_results"),
        (probe.root.get(MONITORS, params={"max_results": "x"}), 400, "max_results"),
        (probe.root.get(MONITORS, params={"page_token": "junk"}), 400, "page_token"),
        (probe.root.get(MONITORS, params={"deployment": "a/b"}), 400, "deployment"),
        (probe.root.patch(one, json={"window_ms": 0}), 400, "window_ms"),
        (probe.root.patch(one, json={"window_ms": None}), 400, "window_ms"),
        (probe.root.patch(one, json={"window_ms": "x"}), 400, "window_ms"),
        (probe.root.patch(one, json={"schedule_ms": 2**70}), 400, "schedule_ms"),
        (probe.root.patch(one, json={"schedule_ms": True}), 400, "schedule_ms"),
        (probe.root.patch(one, json={"window_ms": "60000"}), 400, "window_ms"),
        (probe.root.patch(one, json={"config": [1]}), 400, "config"),
        (probe.root.patch(one, json={"reference": "a b"}), 400, "reference"),
        (probe.root.patch(one, json={"name": "renamed"}), 400, "name"),
        (probe.root.patch(one, json={"description": 5}), 400, "description"),
        (probe.root.patch(f"{MONITORS}/ghost", json={}), 404, "ghost"),
        (
            probe.root.post(f"{one}/windows", json={**window, "values": ["NaN", 1]}),
            400,
            "record None",
        ),
        (
            probe.root.post(f"{one}/windows", json={**window, "values": ["-Infinity", 1]}),
            400,
            "record None",
        ),
        (probe.root.post(f"{one}/windows", json={**window, "values": [1]}), 400, "parallel"),
        (probe.root.post(f"{one}/windows", json={**window, "keys": ["a", "a"]}), 400, "twice"),
        (probe.root.post(f"{one}/windows", json={**window, "keys": ["", "b"]}), 400, "key"),
        (probe.root.post(f"{one}/windows", json={**window, "values": ["x", 1]}), 400, "values"),
        (probe.root.post(f"{one}/windows", json={**window, "last_window_end_ms": -1}), 400, "last"),
        (probe.root.post(f"{one}/windows", json=_window(name, window_end_ms=-1)), 400, "window"),
        (
            probe.root.post(f"{one}/windows", json=_window(name, window_start_ms=HOUR * 2)),
            400,
            "before window_start_ms",
        ),
        (probe.root.post(f"{one}/windows", json=_window(name, status="weird")), 400, "status"),
        (probe.root.post(f"{one}/windows", json=_window(name, monitor="other")), 400, "other"),
        (probe.root.post(f"{one}/windows", json=_window(name, summary=[1])), 400, "summary"),
        (probe.root.post(f"{one}/windows", json=_window(name, window_start_ms="0")), 400, "start"),
        (probe.root.post(f"{one}/windows", json=_window(name, computed_ms=True)), 400, "computed"),
        (probe.root.post(f"{one}/windows", json=_window(name, error=5)), 400, "error"),
        (probe.root.post(f"{one}/windows", json={**window, "values": [True, 1]}), 400, "values"),
        (probe.root.post(f"{one}/windows", json={**window, "keys": [1, "b"]}), 400, "keys"),
        (probe.root.post(f"{one}/windows", json=_window(name, computed_ms=2**70)), 400, "computed"),
        (probe.root.post(f"{one}/windows", json={"keys": [], "values": []}), 400, "run"),
        (probe.root.post(f"{MONITORS}/ghost/windows", json=_window("ghost")), 404, "ghost"),
        (probe.root.get(f"{one}/points", params={"since_ms": -1}), 400, "since_ms"),
        (probe.root.get(f"{one}/points", params={"until_ms": "soon"}), 400, "until_ms"),
        (probe.root.get(f"{one}/points", params={"since_ms": 9, "until_ms": 1}), 400, "after"),
        (probe.root.get(f"{one}/points", params={"limit": 10**9}), 400, "limit"),
        (probe.root.get(f"{one}/points", params={"keys": long}), 400, "key"),
        (probe.root.get(f"{one}/runs", params={"limit": 0}), 400, "limit"),
        (probe.root.get(f"{one}/runs", params={"since_ms": 2**70}), 400, "since_ms"),
        (probe.root.post(f"{MONITORS}/claim-due", json={"owner": "r1"}), 400, "now_ms"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "owner": ""}), 400, "owner"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "lease_ms": 0}), 400, "lease"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "limit": 10**7}), 400, "limit"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "now_ms": 2**70}), 400, "now"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "now_ms": "0"}), 400, "now"),
        (probe.root.post(f"{MONITORS}/claim-due", json={**claim, "limit": True}), 400, "limit"),
        (probe.root.post(f"{one}/release", json={}), 400, "owner"),
        (probe.root.post(f"{one}/release", json={"owner": "r", "next_run_ms": -1}), 400, "next"),
        (probe.root.post(f"{MONITORS}/%2E%2E/release", json={"owner": "r"}), 400, "monitor name"),
    ]
    for answer, status, text in cases:
        where = (answer.request.method, str(answer.request.url)[:120], answer.text[:300])
        assert answer.status_code == status, where
        assert text in answer.json()["message"], where
    assert ok(probe.root.get(f"{one}/runs"))["runs"] == []
    assert ok(probe.root.get(one))["last_window_end_ms"] is None


def test_only_administrators_send_alerts_outside(tmp_path) -> None:
    served = serve(f"sqlite:///{tmp_path / 'outbound.db'}", tmp_path, default_role="editor")
    hook = {"type": "webhook", "url": "http://10.0.0.5/hook", "secret_env": "PERENNIA_CHANNEL_HOOK"}
    try:
        body = {"monitor": _monitor("editor-hook", config={"channels": [hook]})}
        refused = served.stranger.post(MONITORS, json=body)
        assert refused.status_code == 403 and "administrator" in refused.json()["message"]
        logged = {"monitor": _monitor("editor-log", config={"channels": [{"type": "log"}]})}
        ok(served.stranger.post(MONITORS, json=logged))
        patch = served.stranger.patch(
            f"{MONITORS}/editor-log", json={"config": {"channels": [hook]}}
        )
        assert patch.status_code == 403
        ok(served.root.post(MONITORS, json=body))  # root is an administrator
    finally:
        served.close()


def test_a_channel_with_a_plain_secret_is_refused_over_http(probe) -> None:
    hook = {"type": "webhook", "url": "https://hooks.example.com/a", "secret": "s" * 32}
    body = {"monitor": _monitor("plain-secret", config={"channels": [hook]})}
    refused = probe.root.post(MONITORS, json=body)
    assert refused.status_code == 400 and "secret_env" in refused.json()["message"]
    odd = {"monitor": _monitor("odd-channels", config={"channels": "log"})}
    assert probe.root.post(MONITORS, json=odd).status_code == 400
