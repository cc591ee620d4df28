"""/api/v1/deployments on a live server with sign-in on, on SQLite and PostgreSQL: access follows
the deployment's model (a stranger neither reads nor changes the owner's), bad bodies answer
400 naming the field, and a stale revision answers 409."""

from __future__ import annotations

import uuid

import pytest

from perennia.entities import Deployment, Variant
from tests.conftest import postgres_database
from tests.server.probe import SECRET, leaks, ok, serve

DEPLOYMENTS = "/api/v1/deployments"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One staged server per backend; the owner's model gets a second version."""
    tmp_path = tmp_path_factory.mktemp("deploy")

    def staged(uri: str):
        served = serve(uri, tmp_path)
        model = served.ids["model"]
        source = {"source": f"runs:/{served.ids['run']}/model"}
        ok(served.owner.post(f"/api/v1/registered-models/{model}/versions", json=source))
        return served

    if request.param == "sqlite":
        served = staged(f"sqlite:///{tmp_path / 'perennia.db'}")
        yield served
        served.close()
        return
    with postgres_database(request.getfixturevalue("postgres_template")) as uri:
        served = staged(uri)
        yield served
        served.close()


def _body(name: str, model: str, version: int = 1, **fields) -> dict:
    deployment = Deployment(name, model, "single", (Variant("stable", version, 100.0),), 0)
    return {"deployment": {**deployment.to_dict(), "description": SECRET, **fields}}


def _owned(probe) -> dict:
    """Return a new deployment of the owner's model, created by the owner."""
    name = f"dep-{uuid.uuid4().hex[:8]}"
    return ok(probe.owner.post(DEPLOYMENTS, json=_body(name, probe.ids["model"], alias=None)))


def _update(deployment: dict, revision: int, **fields) -> dict:
    return {
        "deployment": {**deployment, **fields},
        "expected_revision": revision,
        "action": "set_traffic",
    }


def test_the_owner_creates_reads_changes_and_deletes_a_deployment(probe) -> None:
    created = _owned(probe)
    name = created["name"]
    assert (created["revision"], created["created_by"]) == (1, "owner")
    assert ok(probe.owner.get(f"{DEPLOYMENTS}/{name}")) == created
    assert name in [d["name"] for d in ok(probe.owner.get(DEPLOYMENTS))["deployments"]]
    canary = [
        {"name": "stable", "version": 1, "weight": 90.0, "shadow": False},
        {"name": "canary", "version": 2, "weight": 10.0, "shadow": False},
    ]
    changed = ok(
        probe.owner.put(f"{DEPLOYMENTS}/{name}", json=_update(created, 1, variants=canary))
    )
    assert changed["revision"] == 2 and changed["variants"] == canary
    events = ok(probe.owner.get(f"{DEPLOYMENTS}/{name}/events"))
    assert [e["action"] for e in events] == ["deploy_set_traffic", "deploy_create"]
    assert all(e["username"] == "owner" for e in events)
    ok(probe.owner.delete(f"{DEPLOYMENTS}/{name}"))
    assert probe.owner.get(f"{DEPLOYMENTS}/{name}").status_code == 404
    assert len(ok(probe.owner.get(f"{DEPLOYMENTS}/{name}/events"))) == 3


def test_a_stranger_neither_reads_nor_changes_the_owners_deployment(probe) -> None:
    created = _owned(probe)
    path = f"{DEPLOYMENTS}/{created['name']}"
    for answer in (
        probe.stranger.get(path),
        probe.stranger.get(f"{path}/events"),
        probe.stranger.put(path, json=_update(created, 1, description="mine now")),
        probe.stranger.delete(path),
        probe.stranger.get(DEPLOYMENTS, params={"model_name": probe.ids["model"]}),
        probe.stranger.post(DEPLOYMENTS, json=_body("hijack", probe.ids["model"], alias=None)),
    ):
        assert answer.status_code == 403, (answer.request.method, answer.request.url)
        assert not leaks(answer, probe.ids["model"])
    listed = ok(probe.stranger.get(DEPLOYMENTS))
    assert created["name"] not in [d["name"] for d in listed["deployments"]]
    assert not leaks(probe.stranger.get(DEPLOYMENTS))
    assert ok(probe.owner.get(path)) == created  # nothing changed, nothing was deleted


def test_each_person_sees_only_deployments_of_models_they_may_read(probe) -> None:
    _owned(probe)
    mine = f"mine-{uuid.uuid4().hex[:8]}"
    ok(probe.stranger.post("/api/v1/registered-models", json={"name": mine}))
    source = {"source": f"runs:/{probe.ids['stranger_run']}/model"}
    ok(probe.stranger.post(f"/api/v1/registered-models/{mine}/versions", json=source))
    ok(probe.stranger.post(DEPLOYMENTS, json=_body(f"{mine}-api", mine)))
    models = {d["model_name"] for d in ok(probe.stranger.get(DEPLOYMENTS))["deployments"]}
    assert models == {mine}
    assert mine not in {d["model_name"] for d in ok(probe.owner.get(DEPLOYMENTS))["deployments"]}
    every = {d["model_name"] for d in ok(probe.root.get(DEPLOYMENTS))["deployments"]}
    assert {mine, probe.ids["model"]} <= every


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"variants": [{"name": "stable", "version": "one", "weight": 100}]}, "version"),
        ({"variants": [{"name": "stable", "version": 2**70, "weight": 100}]}, "version"),
        ({"variants": [{"name": "stable", "version": 1, "weight": 1e308}]}, "weight"),
        ({"variants": []}, "variants"),
        ({"strategy": "yolo"}, "strategy"),
        ({"batching": {"max_batch_size": -1}}, "max_batch_size"),
        ({"policy": {"steps": [5, 5, 100]}}, "policy.steps"),
        ({"policy": {"on_no_data": "pass"}}, "on_no_data"),
        ({"step_started": -1}, "step_started"),
        ({"replicas": 3}, "replicas"),
        ({"variants": [{"name": "stable", "version": 1, "weight": 100, "gpu": 1}]}, "gpu"),
        ({"batching": {"max_batch": 8}}, "max_batch"),
    ],
)
def test_bad_bodies_answer_400_naming_the_field(probe, fields, field) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    answer = probe.owner.post(DEPLOYMENTS, json=_body(name, probe.ids["model"], **fields))
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["message"]
    assert probe.owner.get(f"{DEPLOYMENTS}/{name}").status_code == 404


def test_bad_input_to_every_other_route_answers_400_naming_it(probe) -> None:
    created = _owned(probe)
    path = f"{DEPLOYMENTS}/{created['name']}"
    long = "x" * 300
    for answer, field in (
        (probe.owner.put(path, json={**_update(created, 1), "replicas": 3}), "replicas"),
        (probe.owner.put(path, json=_update(created, 1, policy={"min_requests": 0})), "min_req"),
        (probe.owner.put(path, json={**_update(created, 1), "action": "Drop Table"}), "action"),
        (probe.owner.put(path, json=_update(created, 0)), "expected_revision"),
        (probe.owner.get(f"{path}/events", params={"limit": 0}), "limit"),
        (probe.owner.get(DEPLOYMENTS, params={"model_name": long}), "name"),
        (probe.owner.get(f"{DEPLOYMENTS}/{long}"), "name"),
        (probe.owner.delete(f"{DEPLOYMENTS}/{long}"), "name"),
    ):
        assert answer.status_code == 400, (answer.request.method, answer.request.url, answer.text)
        assert field in answer.json()["message"]
    assert ok(probe.owner.get(path)) == created


def test_a_stale_revision_answers_409_and_names_must_agree(probe) -> None:
    created = _owned(probe)
    path = f"{DEPLOYMENTS}/{created['name']}"
    ok(probe.owner.put(path, json=_update(created, 1, description="first")))
    stale = probe.owner.put(path, json=_update(created, 1, description="second"))
    assert stale.status_code == 409 and stale.json()["error_class"] == "Conflict"
    elsewhere = probe.owner.put(f"{DEPLOYMENTS}/other", json=_update(created, 2))
    assert elsewhere.status_code == 400 and "path" in elsewhere.json()["message"]
    assert ok(probe.owner.get(path))["description"] == "first"


def test_a_deployed_model_cannot_be_deleted_and_stays_guarded(probe) -> None:
    model = f"kept-{uuid.uuid4().hex[:8]}"
    ok(probe.owner.post("/api/v1/registered-models", json={"name": model}))
    source = {"source": f"runs:/{probe.ids['run']}/model"}
    ok(probe.owner.post(f"/api/v1/registered-models/{model}/versions", json=source))
    created = ok(probe.owner.post(DEPLOYMENTS, json=_body(f"{model}-api", model, alias=None)))
    refused = probe.owner.delete(f"/api/v1/registered-models/{model}")
    assert refused.status_code == 409 and f"{model}-api" in refused.json()["message"]
    path = f"{DEPLOYMENTS}/{created['name']}"
    assert ok(probe.owner.get(path))["model_name"] == model
    assert probe.stranger.get(path).status_code == 403
    assert probe.stranger.get(f"{path}/events").status_code == 403
    assert created["name"] not in str(ok(probe.stranger.get(DEPLOYMENTS)))
    ok(probe.owner.delete(path))
    ok(probe.owner.delete(f"/api/v1/registered-models/{model}"))  # nothing serves it now
