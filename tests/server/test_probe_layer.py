"""What every request passes through, checked on a live server with sign-in on: every route has
an access rule (statically, and fail-closed at run time), every failure answers JSON and is
audited, sign-in costs the same for real and unknown users and is throttled, and a deleted user
or revoked token stops working at once (the probe's findings 7, 9, 10 and the design fix).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import Depends
from fastapi.routing import APIRoute

from perennia.config import Settings
from perennia.server.access import OPEN_PATHS, Caller, caller_of
from perennia.server.app import create_app
from perennia.store import open_store
from tests.server.probe import MLFLOW, PASSWORDS, PROXY, SECRET, leaks, ok, serve

# -- every route has an access rule -----------------------------------------------------------


def _dependencies(dependant) -> set:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _dependencies(sub)
    return found


def api_routes(routes) -> tuple[list[APIRoute], list]:
    """Return (every APIRoute, every other route), looking into included routers."""
    found, others = [], []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers whole
            inner, rest = api_routes(route.original_router.routes)
            found += inner
            others += rest
        else:
            others.append(route)
    return found, others


def test_every_route_asks_its_caller(tmp_path: Path) -> None:
    """A route without the Caller dependency cannot decide access: this fails the suite."""
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    settings = Settings().with_overrides(server_auth=True, upload_dir=tmp_path / "up")
    routes, others = api_routes(create_app(store, settings).app.routes)
    assert len(routes) > 120
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if caller_of not in _dependencies(r.dependant)
    ]
    assert missing == []
    assert {r.path for r in others} <= OPEN_PATHS  # FastAPI's own pages: the API description
    store.close()


@pytest.fixture
def layer(sql_store_uri: str, tmp_path: Path):
    """A probe server with three extra routes: one that crashes in a write, one that forgets to
    ask its Caller, and one that reads nothing."""

    def prepare(app, backing) -> None:
        @app.post("/api/v1/test/crash")
        def crash(body: dict, caller: Caller = Depends(caller_of)) -> dict:
            caller.signed_in()
            backing.experiments.create(body["name"])  # joins the request's transaction
            raise RuntimeError("a bug in a route")

        @app.get("/api/v1/test/forgetful")
        def forgetful() -> dict:
            return {"leak": backing.experiments.get_by_name(f"exp-{SECRET}").tags}

    staged = serve(sql_store_uri, tmp_path, prepare=prepare, signin_max_failures=3)
    yield staged
    staged.close()


def test_a_route_that_forgets_its_access_rule_fails_closed(layer) -> None:
    answer = layer.stranger.get("/api/v1/test/forgetful")
    assert answer.status_code == 500 and not leaks(answer)
    assert answer.json()["message"] == "this endpoint has no access rule"


@pytest.mark.parametrize("keyed", [True, False])
def test_an_exception_in_a_write_answers_json_is_audited_and_writes_nothing(layer, keyed) -> None:
    name = f"crash-{uuid.uuid4().hex[:6]}"
    headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
    answer = layer.owner.post("/api/v1/test/crash", json={"name": name}, headers=headers)
    assert answer.status_code == 500
    assert answer.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "internal server error",
        "error_class": "PerenniaError",
    }
    entry = layer.backing.audit.list(limit=1)[0]
    assert (entry.username, entry.path, entry.status) == ("owner", "/api/v1/test/crash", 500)
    if keyed:
        # The write rolled back with the failed request, and the key is free for a retry at once.
        assert layer.backing.experiments.get_by_name(name) is None
        again = layer.owner.post("/api/v1/test/crash", json={"name": name}, headers=headers)
        assert again.status_code == 500  # ran again, not "still running" (503)


def test_refused_writes_are_audited_with_their_status(layer) -> None:
    run = layer.ids["run"]
    refused = layer.stranger.post(f"/api/v1/runs/{run}/tags", json=[{"key": "k", "value": "v"}])
    assert refused.status_code == 403
    entry = layer.backing.audit.list(limit=1)[0]
    assert (entry.username, entry.status, entry.target) == ("stranger", 403, None)
    unsigned = httpx.post(f"{layer.url}/api/v1/runs/{run}/tags", json=[])
    assert unsigned.status_code == 401
    assert layer.backing.audit.list(limit=1)[0].status == 401


# -- sign-in -------------------------------------------------------------------------------------


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_unknown_users_cost_the_same_password_check_as_real_ones(layer, monkeypatch) -> None:
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr("perennia.security.hashlib.scrypt", counting)
    for username in ("owner", "nobody-by-this-name"):
        calls.clear()
        answer = httpx.get(f"{layer.url}/api/v1/experiments", headers=_basic(username, "wrong-1"))
        assert answer.status_code == 401
        assert calls == [2**14], username  # one scrypt run with the same cost either way


def test_failed_sign_ins_are_throttled_without_locking_out_signed_in_clients(layer) -> None:
    url = f"{layer.url}/api/v1/experiments"
    remembered = httpx.get(url, headers=_basic("owner", PASSWORDS["owner"]))
    assert remembered.status_code == 200  # owner signed in before the flood
    for _ in range(3):
        assert httpx.get(url, headers=_basic("owner", "guess-123")).status_code == 401
    flooded = httpx.get(url, headers=_basic("owner", "guess-123"))
    assert flooded.status_code == 429 and "too many failed sign-ins" in flooded.json()["message"]
    # The right password already verified still works, and so do tokens.
    assert httpx.get(url, headers=_basic("owner", PASSWORDS["owner"])).status_code == 200
    assert layer.owner.get("/api/v1/experiments").status_code == 200
    # A new sign-in by password for that user waits the window out.
    assert httpx.get(url, headers=_basic("stranger", PASSWORDS["stranger"])).status_code == 429


def test_a_deleted_user_or_revoked_token_stops_working_at_once(layer) -> None:
    url = f"{layer.url}/api/v1/experiments"
    basic = _basic("stranger", PASSWORDS["stranger"])
    assert httpx.get(url, headers=basic).status_code == 200  # verified and remembered
    token_id = layer.backing.users.list_tokens("owner")[0].token_id
    layer.backing.users.revoke_token(token_id)
    assert layer.owner.get("/api/v1/experiments").status_code == 401
    layer.backing.users.delete_user("stranger")
    assert httpx.get(url, headers=basic).status_code == 401
    assert layer.stranger.get("/api/v1/experiments").status_code == 401


# -- no route reads outside the caller's rights ----------------------------------------------


def _filled(path: str, ids: dict[str, str]) -> str:
    values = {
        "{experiment_id}": ids["experiment"],
        "{run_id}": ids["run"],
        "{name}": ids["model"],
        "{digest}": ids["digest"],
        "{version}": "1",
        "{alias}": "champion",
        "{request_id}": "1",
        "{model_id}": "m-" + "0" * 32,
        "{username}": "stranger",
        "{webhook_id}": "1",
        "{key:path}": "k",
        "{path:path}": f"{ids['experiment']}/{ids['run']}/artifacts/secret.txt",
    }
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    return path


def test_no_route_gives_a_stranger_the_owners_data(layer) -> None:
    """Every route, called with the owner's ids in the path, the query and the body."""
    ids = layer.ids
    body = {
        "experiment_id": ids["experiment"],
        "experiment_ids": [ids["experiment"]],
        "run_id": ids["run"],
        "run_uuid": ids["run"],
        "run_ids": [ids["run"]],
        "name": ids["model"],
        "key": "secret",
        "metric_key": "auc",
        "version": "1",
        "source": f"runs:/{ids['run']}/model",
        "path": "secret.txt",
    }
    query = {k: v for k, v in body.items() if isinstance(v, str)}
    routes, _ = api_routes(layer.app.routes)
    checked = 0
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            answer = layer.stranger.request(
                method, _filled(route.path, ids), params=query, json=body
            )
            assert not leaks(answer, ids["model"]), (method, route.path, answer.text[:300])
            checked += 1
    assert checked > 120
    # The owner's data is untouched by all of that.
    assert layer.backing.runs.get(ids["run"]).data.params == {"secret": SECRET}


# -- a fuzz of the auth-relevant arguments -------------------------------------------------------


_ID_SHAPES = [
    lambda e, s: e,
    lambda e, s: int(e),
    lambda e, s: [e],
    lambda e, s: [int(e)],
    lambda e, s: [s, e],
    lambda e, s: f"{s}{e}",
    lambda e, s: [[e]],
    lambda e, s: {"0": e},
    lambda e, s: [e, e],
    lambda e, s: f" {e}",
    lambda e, s: [f"{e} "],
    lambda e, s: [f"0{e}"],
    lambda e, s: [float(e)],
    lambda e, s: [True],
    lambda e, s: None,
    lambda e, s: "",
    lambda e, s: [None],
    lambda e, s: [f"{e}\x00"],
    lambda e, s: f"[{e}]",
    lambda e, s: [-1],
]


def test_experiment_ids_in_every_json_shape_read_nothing_foreign(layer) -> None:
    eid, own = layer.ids["experiment"], layer.ids["stranger_experiment"]
    for shape in _ID_SHAPES:
        value = shape(eid, own)
        for path, key in (
            (f"{MLFLOW}/runs/search", "experiment_ids"),
            ("/api/v1/runs/search", "experiment_ids"),
            ("/api/v1/runs/search-frame", "experiment_ids"),
            (f"{MLFLOW}/logged-models/search", "experiment_ids"),
            (f"{MLFLOW}/experiments/search", "experiment_ids"),
            (f"{MLFLOW}/runs/create", "experiment_id"),
            ("/api/v1/runs", "experiment_id"),
        ):
            answer = layer.stranger.post(path, json={key: value})
            assert not leaks(answer), (path, value, answer.text[:200])
        got = layer.stranger.get(f"{MLFLOW}/experiments/get", params={"experiment_id": value})
        assert not leaks(got), (value, got.text[:200])
    assert layer.backing.runs.search([eid]).items[0].info.run_id == layer.ids["run"]


_SLASHES = [
    "/",
    "//",
    "///",
    "/./",
    "%2F",
    "%2f",
    "%252F",
    "\\",
    "%5C",
    "/%2e/",
    "/%2E%2E/",
    "/../",
    "/.%2e/",
    "%00/",
    "/ /",
]


def test_artifact_paths_with_every_slash_and_dot_encoding_read_nothing_foreign(layer) -> None:
    eid, run = layer.ids["experiment"], layer.ids["run"]
    own_eid, own_run = layer.ids["stranger_experiment"], layer.ids["stranger_run"]
    raw = httpx.Client(base_url=layer.url, headers=layer.stranger.headers)
    for a in _SLASHES:
        for b in _SLASHES:
            tails = [
                f"{a}{eid}{b}{run}/artifacts/secret.txt",
                f"{own_eid}/{own_run}/artifacts{a}..{b}..{a}{eid}/{run}/artifacts/secret.txt",
                f"{own_eid}{a}..{b}{eid}/{run}/artifacts/secret.txt",
            ]
            for tail in tails:
                # Sent as written: httpx would normalise some of these, so build the raw URL.
                answer = raw.send(
                    raw.build_request("GET", httpx.URL(layer.url + PROXY + "/" + tail))
                )
                assert not leaks(answer), (tail, answer.status_code, answer.text[:200])
                listing = raw.get(PROXY, params={"path": tail.rsplit("/", 1)[0]})
                assert "secret.txt" not in listing.text, (tail, listing.text[:200])
    raw.close()
    assert (
        "secret.txt"
        in ok(layer.owner.get(PROXY, params={"path": f"{eid}/{run}/artifacts"}))["files"][0]["path"]
    )
