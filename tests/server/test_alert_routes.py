"""Monitors' alert routes on a live server with sign-in on, on SQLite and PostgreSQL: nobody
without a token gets in, every signed-in user reads alert states and events, only an editor by
the server's default role (or an administrator) records a step, a step recorded again stores
nothing new, and bad input on every route answers 400 or 404 with a JSON body naming it, never
a 500."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from perennia.entities import Monitor, to_dict
from tests.conftest import postgres_database
from tests.server.probe import ok, serve

MONITORS = "/api/v1/monitors"
EVENTS = "/api/v1/alert-events"
HOUR = 3_600_000
FP = "0123456789abcdef"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One staged server per backend with `PERENNIA_AUTH_DEFAULT_ROLE=none`: the owner and the
    stranger read alerts but only root (an administrator) may record them."""
    tmp_path = tmp_path_factory.mktemp("alerts")
    if request.param == "sqlite":
        served = serve(f"sqlite:///{tmp_path / 'perennia.db'}", tmp_path)
        yield served
        served.close()
        return
    with postgres_database(request.getfixturevalue("postgres_template")) as uri:
        served = serve(uri, tmp_path)
        yield served
        served.close()


def _created(client: httpx.Client) -> str:
    """Return the name of a new monitor, created through `client`."""
    name = f"mon-{uuid.uuid4().hex[:8]}"
    ok(client.post(MONITORS, json={"monitor": to_dict(Monitor(name, "datasets:/t@1", HOUR))}))
    return name


def _state(name: str, **fields) -> dict:
    state = {"status": "firing", "since_ms": HOUR, "fingerprint": FP, "last_time_ms": HOUR}
    return {"monitor": name, "rule": "share_drifted", "state": state, "updated_ms": 0, **fields}


def _event(name: str, **fields) -> dict:
    body = {"rule": "share_drifted", "status": "firing", "value": "+Inf", "labels": {"a": "b"}}
    event = {
        "monitor": name,
        "rule": "share_drifted",
        "status": "firing",
        "fingerprint": FP,
        "time_ms": HOUR,
        "event": body,
        "event_id": 0,
        "recorded_ms": 0,
    }
    return {**event, **fields}


def _step(name: str, states: list | None = None, events: list | None = None) -> dict:
    return {
        "states": [_state(name)] if states is None else states,
        "events": [_event(name)] if events is None else events,
    }


def _routes(name: str) -> list[tuple[str, str, dict]]:
    """Return (method, path, request arguments) of every alert route for monitor `name`."""
    one = f"{MONITORS}/{name}"
    return [
        ("GET", f"{one}/alert-states", {}),
        ("POST", f"{one}/alert-steps", {"json": _step(name)}),
        ("GET", EVENTS, {}),
        ("GET", EVENTS, {"params": {"monitor": name, "status": "firing"}}),
    ]


def test_a_caller_without_a_token_is_refused_everywhere(probe) -> None:
    name = _created(probe.root)
    with httpx.Client(base_url=probe.url, timeout=30) as anonymous:
        for method, path, arguments in _routes(name):
            answer = anonymous.request(method, path, **arguments)
            assert answer.status_code == 401, (method, path, answer.text)
    assert ok(probe.root.get(f"{MONITORS}/{name}/alert-states")) == {"states": []}


def test_a_reader_reads_every_route_but_records_nothing(probe) -> None:
    name = _created(probe.root)
    recorded = ok(probe.root.post(f"{MONITORS}/{name}/alert-steps", json=_step(name)))["events"]
    for method, path, arguments in _routes(name):
        answer = probe.stranger.request(method, path, **arguments)
        if method == "POST":
            assert answer.status_code == 403, (method, path, answer.text)
            assert "editor" in answer.json()["message"]
        else:
            assert answer.status_code == 200, (method, path, answer.text)
    states = ok(probe.stranger.get(f"{MONITORS}/{name}/alert-states"))["states"]
    assert [(s["rule"], s["state"]) for s in states] == [("share_drifted", _state(name)["state"])]
    listed = ok(probe.owner.get(EVENTS, params={"monitor": name}))["events"]
    assert listed == recorded


def test_an_administrator_records_a_step_and_a_rerun_stores_nothing_new(probe) -> None:
    name = _created(probe.root)
    path = f"{MONITORS}/{name}/alert-steps"
    # The store's fields in a draft (ids, times) are ignored, not trusted.
    drafted = _event(name, event_id=99, recorded_ms=5)
    resolved = _event(name, status="resolved", time_ms=2 * HOUR)
    first = ok(probe.root.post(path, json=_step(name, events=[drafted, resolved])))["events"]
    assert first[0]["event_id"] < first[1]["event_id"]
    assert first[0]["event_id"] != 99 and first[0]["recorded_ms"] > 5
    assert [e["event"] for e in first] == [drafted["event"], resolved["event"]]
    again = ok(probe.root.post(path, json=_step(name, events=[resolved, drafted])))["events"]
    assert again == first[::-1]
    listed = ok(probe.root.get(EVENTS, params={"monitor": name}))["events"]
    assert listed == first[::-1]  # newest first
    assert ok(probe.root.get(EVENTS, params={"monitor": name, "status": "firing"}))["events"] == [
        first[0]
    ]
    window = {"monitor": name, "since_ms": 2 * HOUR, "until_ms": 2 * HOUR, "limit": 1}
    assert ok(probe.root.get(EVENTS, params=window))["events"] == [first[1]]
    ok(probe.root.delete(f"{MONITORS}/{name}"))
    assert probe.root.get(f"{MONITORS}/{name}/alert-states").status_code == 404
    assert all(e["monitor"] != name for e in ok(probe.root.get(EVENTS))["events"])


def test_an_editor_by_default_role_records_steps(tmp_path) -> None:
    served = serve(f"sqlite:///{tmp_path / 'editor.db'}", tmp_path, default_role="editor")
    try:
        name = _created(served.owner)
        stored = ok(served.stranger.post(f"{MONITORS}/{name}/alert-steps", json=_step(name)))
        assert [e["status"] for e in stored["events"]] == ["firing"]
        assert len(ok(served.owner.get(f"{MONITORS}/{name}/alert-states"))["states"]) == 1
    finally:
        served.close()


def _bad_steps(name: str) -> list[tuple[object, str]]:
    """Return (body, message fragment) of steps the server must refuse with 400."""
    state, event = _state(name), _event(name)
    without = {k: v for k, v in event.items() if k != "fingerprint"}
    return [
        # Wrong JSON types, read exactly (no "5" or true for a number).
        (_step(name, events=[{**event, "time_ms": "3600000"}]), "time_ms"),
        (_step(name, events=[{**event, "time_ms": True}]), "time_ms"),
        (_step(name, events=[{**event, "time_ms": 1.5}]), "time_ms"),
        (_step(name, events=[{**event, "time_ms": [1]}]), "time_ms"),
        (_step(name, events=[{**event, "event_id": True}]), "event_id"),
        (_step(name, events=[{**event, "recorded_ms": "x"}]), "recorded_ms"),
        (_step(name, events=[{**event, "fingerprint": 12345}]), "fingerprint"),
        (_step(name, events=[{**event, "status": 1}]), "status"),
        (_step(name, events=[{**event, "event": "firing"}]), "event"),
        (_step(name, events=[{**event, "event": [1]}]), "event"),
        (_step(name, events=[{**event, "rule": None}]), "rule"),
        (_step(name, states=[{**state, "state": [1]}]), "state"),
        (_step(name, states=[{**state, "rule": 5}]), "rule"),
        (_step(name, states=[{**state, "updated_ms": "now"}]), "updated_ms"),
        (_step(name, events=[5]), "events"),
        ({"states": {}, "events": []}, "states"),
        ({"states": [], "events": "x"}, "events"),
        # Missing and unknown fields.
        (_step(name, events=[without]), "fingerprint"),
        (_step(name, states=[{"monitor": name, "state": {}}]), "rule"),
        ({"events": []}, "states"),
        ({"states": []}, "events"),
        ({**_step(name), "extra": 1}, "extra"),
        (_step(name, events=[{**event, "bogus": 1}]), "bogus"),
        # Values the store refuses.
        (_step(name, events=[{**event, "time_ms": 2**70}]), "time_ms"),
        (_step(name, events=[{**event, "time_ms": -1}]), "time_ms"),
        (_step(name, events=[{**event, "status": "pending"}]), "status"),
        (_step(name, events=[{**event, "fingerprint": FP.upper()}]), "fingerprint"),
        (_step(name, events=[{**event, "monitor": "other"}]), "other"),
        (_step(name, states=[{**state, "monitor": "other"}]), "other"),
        (_step(name, states=[{**state, "rule": "has-dash"}]), "rule"),
        (_step(name, states=[{**state, "rule": "x" * 300}]), "rule"),
        (_step(name, events=[event, {**event, "event": {}}]), "twice"),
        (_step(name, states=[state, state]), "twice"),
        (_step(name, states=[{**state, "state": {"big": "x" * 20_000}}]), "state"),
        (_step(name, events=[{**event, "event": {"big": "x" * 70_000}}]), "event"),
        (_step(name, states=[state] * 1_001), "at most"),
        (_step(name, events=[event] * 1_001), "at most"),
    ]


# JSON that Python's parser reads but JSON forbids: NaN and the infinities, as numbers.
NON_FINITE = ('{"since_ms": NaN}', '{"deep": [Infinity]}', '{"x": -Infinity}', '{"x": 1e400}')
AS_JSON = {"Content-Type": "application/json"}


def test_bad_steps_answer_400_naming_the_field_and_store_nothing(probe) -> None:
    name = _created(probe.root)
    path = f"{MONITORS}/{name}/alert-steps"
    for body, field in _bad_steps(name):
        answer = probe.root.post(path, json=body)
        assert answer.status_code == 400, (str(body)[:200], answer.status_code, answer.text[:300])
        assert field in answer.json()["message"], (str(body)[:200], answer.text[:300])
    placeholder = json.dumps(_step(name, states=[_state(name, state={"p": 0})]))
    for number in NON_FINITE:
        for where in ("state", "event"):
            content = placeholder if where == "state" else json.dumps(_step(name))
            if where == "event":
                content = content.replace('"labels": {"a": "b"}', f'"labels": {number}')
            else:
                content = content.replace('{"p": 0}', number)
            assert number in content
            answer = probe.root.post(path, content=content, headers=AS_JSON)
            assert answer.status_code == 400, (number, where, answer.text[:300])
            assert where in answer.json()["message"], (number, where, answer.text[:300])
    for number in ("NaN", "Infinity", "1e400"):
        content = json.dumps(_step(name)).replace(f'"time_ms": {HOUR}', f'"time_ms": {number}')
        answer = probe.root.post(path, content=content, headers=AS_JSON)
        assert answer.status_code == 400 and "time_ms" in answer.json()["message"], answer.text
    for raw in ("[]", "not json", '"text"', "{}", "null", '{"states": 5, "events": []}'):
        answer = probe.root.post(path, content=raw, headers=AS_JSON)
        assert answer.status_code == 400, (raw, answer.text)
    assert ok(probe.root.get(f"{MONITORS}/{name}/alert-states")) == {"states": []}
    assert ok(probe.root.get(EVENTS, params={"monitor": name})) == {"events": []}


def test_bad_input_to_every_other_route_answers_400_or_404_never_500(probe) -> None:
    name = _created(probe.root)
    long = "x" * 300
    ghost = _step("ghost")
    cases = [
        (probe.root.get(f"{MONITORS}/ghost/alert-states"), 404, "ghost"),
        (probe.root.get(f"{MONITORS}/{long}/alert-states"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/%2E%2E/alert-states"), 400, "monitor name"),
        (probe.root.get(f"{MONITORS}/a%40b/alert-states"), 400, "monitor name"),
        (probe.root.post(f"{MONITORS}/ghost/alert-steps", json=ghost), 404, "ghost"),
        (probe.root.post(f"{MONITORS}/-x/alert-steps", json=_step("-x")), 400, "monitor name"),
        (probe.root.post(f"{MONITORS}/{long}/alert-steps", json=_step(long)), 400, "monitor name"),
        (probe.root.get(EVENTS, params={"monitor": "ghost"}), 404, "ghost"),
        (probe.root.get(EVENTS, params={"monitor": "a/b"}), 400, "monitor name"),
        (probe.root.get(EVENTS, params={"monitor": long}), 400, "monitor name"),
        (probe.root.get(EVENTS, params={"rule": "a-b"}), 400, "rule"),
        (probe.root.get(EVENTS, params={"rule": long}), 400, "rule"),
        (probe.root.get(EVENTS, params={"status": "pending"}), 400, "status"),
        (probe.root.get(EVENTS, params={"since_ms": -1}), 400, "since_ms"),
        (probe.root.get(EVENTS, params={"since_ms": "soon"}), 400, "since_ms"),
        (probe.root.get(EVENTS, params={"since_ms": 2**70}), 400, "since_ms"),
        (probe.root.get(EVENTS, params={"until_ms": "NaN"}), 400, "until_ms"),
        (probe.root.get(EVENTS, params={"until_ms": 1.5}), 400, "until_ms"),
        (probe.root.get(EVENTS, params={"since_ms": 9, "until_ms": 1}), 400, "after"),
        (probe.root.get(EVENTS, params={"limit": 0}), 400, "limit"),
        (probe.root.get(EVENTS, params={"limit": 10**9}), 400, "limit"),
        (probe.root.get(EVENTS, params={"limit": 2**70}), 400, "limit"),
        (probe.root.get(EVENTS, params={"limit": "all"}), 400, "limit"),
        (probe.root.get(EVENTS, params={"monitor": name, "limit": -5}), 400, "limit"),
    ]
    for answer, status, text in cases:
        where = (answer.request.method, str(answer.request.url)[:120], answer.text[:300])
        assert answer.status_code == status, where
        assert text in answer.json()["message"], where
    assert ok(probe.root.get(EVENTS, params={"monitor": name})) == {"events": []}
