"""The registry and its governance over the native REST API, on a live server.

The store protocol itself is proven three ways by tests/store/test_registry.py; these are the
things only HTTP has: the OpenAPI document, status codes and error classes, request bodies,
who is recorded as acting, races between clients, and the SDK pointed at a server.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

import perennia
from perennia import registry as sdk
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from perennia.store.rest.store import RestStore
from tests.conftest import reset_tracking

MODELS = "/api/v1/registered-models"


@pytest.fixture
def api(live_server):
    url, _backing = live_server
    with httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture
def remote(live_server):
    store = RestStore(live_server[0])
    yield store
    store.close()


def _model_with_versions(store, name: str = "fraud", count: int = 2) -> None:
    store.registry.create_registered_model(name)
    for _ in range(count):
        store.versions.create_model_version(name, "s")


def test_the_openapi_document_lists_the_registry_and_governance_routes(api) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    model = MODELS + "/{name}"
    expected = {
        MODELS: {"get", "post"},
        model: {"get", "patch", "delete"},
        model + "/versions": {"get", "post"},
        model + "/versions/{version}": {"get", "patch", "delete"},
        model + "/aliases/{alias}": {"get", "put", "delete"},
        model + "/events": {"get"},
        "/api/v1/registry-events": {"get"},
        model + "/policies/{alias}": {"get", "put", "delete"},
        model + "/approval-requests": {"get", "post"},
        "/api/v1/approval-requests/{request_id}": {"get"},
        "/api/v1/approval-requests/{request_id}/reviews": {"post"},
        "/api/v1/approval-requests/{request_id}/cancel": {"post"},
        model + "/card": {"get", "patch"},
        model + "/card/revisions": {"get"},
    }
    assert {path: set(paths.get(path, {})) for path in expected} == expected


def test_status_codes_map_to_the_same_error_classes(api, remote) -> None:
    _model_with_versions(remote)
    remote.aliases.set_alias("fraud", "champion", 1)
    with pytest.raises(NotFound, match="no version 9"):
        remote.versions.get_model_version("fraud", 9)
    with pytest.raises(AlreadyExists, match="already exists"):
        remote.registry.create_registered_model("fraud")
    with pytest.raises(Conflict, match="another change won the race"):
        remote.aliases.set_alias("fraud", "champion", 2, expected_version=2)
    with pytest.raises(InvalidInput, match="state must be one of"):
        remote.versions.update_model_version("fraud", 1, state="retired")
    answers = [
        api.get(f"{MODELS}/ghost"),
        api.post(MODELS, json={"name": "fraud"}),
        api.put(f"{MODELS}/fraud/aliases/champion", json={"version": 2, "expected_version": 2}),
        api.put(f"{MODELS}/fraud/aliases/latest", json={"version": 2}),
    ]
    assert [(a.status_code, a.json()["error_class"]) for a in answers] == [
        (404, "NotFound"),
        (409, "AlreadyExists"),
        (409, "Conflict"),
        (400, "InvalidInput"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", MODELS, {"name": 5}, "name"),
        ("POST", MODELS, {"name": "x", "descripton": "typo"}, "descripton"),
        ("POST", MODELS + "/fraud/versions", {"source": "s", "status": "DONE"}, "status"),
        ("PATCH", MODELS + "/fraud/versions/1", {"state": ["archived"]}, "state"),
        ("GET", MODELS + "/fraud/versions/first", None, "version"),
        ("GET", MODELS + "/fraud/versions/0", None, "version"),
        ("PUT", MODELS + "/fraud/aliases/champion", {"version": "two"}, "version"),
        (
            "PUT",
            MODELS + "/fraud/aliases/champion",
            {"version": 1, "expected_version": "x"},
            "expected_version",
        ),
        ("PUT", MODELS + "/fraud/aliases/champion", {"version": 1, "action": "approve"}, "action"),
        ("GET", MODELS + "/fraud/events?limit=0", None, "limit"),
        ("PUT", MODELS + "/fraud/policies/champion", {"gates": [{"metric": "auc"}]}, "gates"),
        (
            "PUT",
            MODELS + "/fraud/policies/champion",
            {"required_approvals": 2**40},
            "required_approvals",
        ),
        ("POST", MODELS + "/fraud/approval-requests", {"alias": "champion"}, "version"),
        ("POST", "/api/v1/approval-requests/abc/reviews", {"decision": "approve"}, "request_id"),
        ("POST", "/api/v1/approval-requests/1/reviews", {"comment": "ok"}, "decision"),
        ("PATCH", MODELS + "/fraud/card", {"fields": ["intended_use"]}, "fields"),
        ("PATCH", MODELS + "/fraud/card", {"fields": {"intended_use": 5}}, "intended_use"),
        (
            "PATCH",
            MODELS + "/fraud/card",
            {"fields": {"a": "b"}, "expected_revision": "x"},
            "expected_revision",
        ),
    ],
)
def test_a_bad_body_gets_a_400_naming_the_field(api, remote, method, path, body, field) -> None:
    _model_with_versions(remote)
    answer = api.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["error_class"] == "InvalidInput" and field in error["message"]


def test_expected_version_absent_null_and_set_mean_three_different_things(api, remote) -> None:
    _model_with_versions(remote, count=3)
    alias = f"{MODELS}/fraud/aliases/champion"
    assert api.put(alias, json={"version": 1, "expected_version": None}).json() == {
        "previous_version": None
    }
    refused = api.put(alias, json={"version": 2, "expected_version": None})
    assert refused.status_code == 409 and "points at version 1 now" in refused.json()["message"]
    assert api.put(alias, json={"version": 2}).json() == {"previous_version": 1}
    assert api.put(alias, json={"version": 3, "expected_version": 2}).json() == {
        "previous_version": 2
    }
    assert api.get(alias).json()["version"] == 3


def test_without_sign_in_the_client_names_who_acted(remote) -> None:
    remote.registry.create_registered_model("fraud", username="ana")
    remote.versions.create_model_version("fraud", "s", username="bo")
    assert [e.username for e in remote.registry.events("fraud")] == ["bo", "ana"]
    assert remote.versions.get_model_version("fraud", 1).user_id == "bo"


def test_with_sign_in_the_signed_in_user_acts_whatever_the_client_claims(rest_server) -> None:
    url, backing, token = rest_server
    store = RestStore(url, token=token)
    try:
        store.registry.create_registered_model("fraud", username="mallory")
        store.versions.create_model_version("fraud", "s", username="mallory")
        store.aliases.set_alias("fraud", "champion", 1, username="mallory")
        store.aliases.delete_alias("fraud", "champion", username="mallory")
    finally:
        store.close()
    events = backing.registry.events("fraud")
    assert {e.username for e in events} == {"suite-admin"} and len(events) == 4
    assert backing.versions.get_model_version("fraud", 1).user_id == "suite-admin"
    with httpx.Client(base_url=url) as anonymous:
        assert anonymous.get(f"{MODELS}/fraud").status_code == 401


def test_two_clients_racing_an_alias_move_one_wins_one_conflicts(live_server) -> None:
    url, backing = live_server
    _model_with_versions(backing, count=3)
    backing.aliases.set_alias("fraud", "champion", 1)
    barrier, outcomes = threading.Barrier(2), {}

    def move(version: int) -> None:
        store = RestStore(url)
        barrier.wait()
        try:
            store.aliases.set_alias("fraud", "champion", version, expected_version=1)
            outcomes[version] = "won"
        except Conflict:
            outcomes[version] = "conflict"
        finally:
            store.close()

    threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["conflict", "won"]
    (winner,) = [v for v, outcome in outcomes.items() if outcome == "won"]
    assert backing.aliases.get_version_by_alias("fraud", "champion").version == winner


def test_rollbacks_walk_back_one_step_at_a_time(remote) -> None:
    _model_with_versions(remote, count=3)
    for version in (1, 2, 3):
        remote.aliases.set_alias("fraud", "champion", version)
    assert remote.aliases.rollback_alias("fraud", "champion").version == 2
    assert remote.aliases.rollback_alias("fraud", "champion").version == 1
    with pytest.raises(InvalidInput, match="no earlier version"):
        remote.aliases.rollback_alias("fraud", "champion")
    assert remote.aliases.get_version_by_alias("fraud", "champion").version == 1


def test_a_guarded_alias_rolls_back_only_through_its_own_history(remote) -> None:
    _model_with_versions(remote, count=3)
    remote.aliases.set_alias("fraud", "champion", 1)
    remote.approvals.set_policy("fraud", "champion", reviewer_role="any")
    with pytest.raises(PermissionDenied, match="guarded"):
        remote.aliases.set_alias("fraud", "champion", 3)
    with pytest.raises(InvalidInput, match="no earlier version"):
        remote.aliases.rollback_alias("fraud", "champion")
    request = remote.approvals.request("fraud", 2, "champion", username="ana")
    assert remote.approvals.review(request.request_id, "approve", username="bo").status == "APPLIED"
    # An approved move is part of the alias's history: rolling back undoes it.
    assert remote.aliases.rollback_alias("fraud", "champion").version == 1


def test_values_that_would_change_the_url_are_refused_before_sending(api, remote) -> None:
    _model_with_versions(remote)
    with pytest.raises(InvalidInput, match="may not contain '/'"):
        remote.registry.create_registered_model("team/fraud")
    with pytest.raises(InvalidInput, match="positive integer"):
        remote.versions.get_model_version("fraud", "1/../2")
    with pytest.raises(InvalidInput, match="positive integer"):
        remote.approvals.get_request("1/../../registered-models")
    assert api.post(MODELS, json={"name": "team/fraud"}).status_code == 400
    assert api.get(f"{MODELS}/fraud/aliases/a%2Fb").status_code == 404


def test_the_registry_sdk_works_remotely_without_code_changes(
    live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, backing = live_server
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", url)
    reset_tracking()
    try:
        with perennia.start_run(run_name="train") as run:
            perennia.log_metric("auc", 0.9)
        first = sdk.register_model(f"runs:/{run.run_id}/model", "fraud.detector")
        second = sdk.register_model(f"runs:/{run.run_id}/model", "fraud.detector")
        assert (first.version, second.version, first.run_id) == (1, 2, run.run_id)
        assert sdk.set_alias("fraud.detector", "champion", 1) is None
        assert sdk.set_alias("fraud.detector", "champion", 2) == 1
        assert sdk.rollback("fraud.detector", "champion").version == 1
        assert sdk.resolve("models:/fraud.detector@champion").version == 1
        actions = [e.action for e in sdk.history("fraud.detector")]
    finally:
        reset_tracking()
    assert actions == [
        "rollback_alias",
        "set_alias",
        "set_alias",
        "create_model_version",
        "create_model_version",
        "create_registered_model",
    ]
    # The registry lives in the database behind the server.
    assert backing.registry.get_registered_model("fraud.detector").aliases == {"champion": 1}


def test_governance_round_trips_over_http(remote) -> None:
    _model_with_versions(remote)
    assert remote.approvals.get_policy("fraud", "champion") is None
    assert remote.cards.get("fraud") is None
    policy = remote.approvals.set_policy(
        "fraud", "champion", required_approvals=1, gates=["auc >= 0.5"]
    )
    assert remote.approvals.get_policy("fraud", "champion") == policy
    assert remote.approvals.list_policies("fraud") == [policy]
    request = remote.approvals.request("fraud", 1, "champion", comment="ship it", username="ana")
    assert remote.approvals.get_request(request.request_id) == request
    assert remote.approvals.list_requests("fraud") == [request]
    cancelled = remote.approvals.cancel(request.request_id, username="ana")
    assert cancelled.status == "CANCELLED"
    with pytest.raises(NotFound):
        remote.approvals.get_request(10**6)
    first = remote.cards.edit("fraud", {"intended_use": "scoring"}, expected_revision=None)
    second = remote.cards.edit("fraud", {"limits": "EU only"}, expected_revision=first.revision)
    assert second.fields == {"intended_use": "scoring", "limits": "EU only"}
    with pytest.raises(Conflict):
        remote.cards.edit("fraud", {"limits": "none"}, expected_revision=first.revision)
    assert remote.cards.get("fraud", first.revision) == first
    assert remote.cards.revisions("fraud") == [first, second]
    remote.approvals.delete_policy("fraud", "champion")
    assert remote.approvals.list_policies("fraud") == []
