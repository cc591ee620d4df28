"""Registry governance through a live server with sign-in: per-model roles and real identities.

Each person uses their own token through the same REST store the SDK uses, so the server (not
the client) decides who acted: nobody can approve their own request by naming someone else.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from perennia.config import Settings
from perennia.entities import MetricBatch
from perennia.errors import PermissionDenied
from perennia.server.app import create_app
from perennia.store import open_store
from tests.live_server import LiveServer

PEOPLE = (("root", True), ("ana", False), ("bob", False), ("cy", False), ("eve", False))


@pytest.fixture
def team(sqlite_uri: str, tmp_path: Path):
    """Yield (url, backing store, REST store per person) for a server that requires sign-in."""
    backing = open_store(sqlite_uri)
    tokens = {}
    for name, admin in PEOPLE:
        backing.users.create_user(name, None, is_admin=admin)
        tokens[name] = backing.users.create_token(name, "tests")[1]
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri, artifacts_uri=str(tmp_path / "art"), server_auth=True
    )
    server = LiveServer(create_app(backing, settings)).start()
    stores = {name: open_store(server.url, token=tokens[name]) for name, _ in PEOPLE}
    yield server.url, backing, stores, tokens
    for store in stores.values():
        store.close()
    server.stop()
    backing.close()


def _version_by(store, experiment_id: str, auc: float) -> int:
    run = store.runs.create(experiment_id, run_name="train")
    store.log_batch(run.info.run_id, MetricBatch(["test_roc_auc"], [auc], [0], [1]))
    return store.versions.create_model_version(
        "fraud", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    ).version


def test_the_author_cannot_approve_and_a_manager_on_the_model_can(team) -> None:
    _url, backing, people, _tokens = team
    ana, bob, cy = people["ana"], people["bob"], people["cy"]
    experiment_id = ana.experiments.create("fraud-work")
    ana.registry.create_registered_model("fraud")  # ana now manages 'fraud'
    assert backing.access.model_roles("fraud") == {"ana": "manager"}
    assert backing.registry.get_registered_model("fraud").owner == "ana"
    version = _version_by(ana, experiment_id, 0.95)
    assert backing.versions.get_model_version("fraud", version).user_id == "ana"
    # Only a manager of the model may set its policy and hand out roles.
    with pytest.raises(PermissionDenied, match="role on registered model 'fraud'"):
        bob.approvals.set_policy("fraud", "champion", gates=["test_roc_auc >= 0.9"])
    ana.approvals.set_policy("fraud", "champion", gates=["test_roc_auc >= 0.9"])
    backing.access.set_model_role("fraud", "bob", "manager")
    backing.access.set_model_role("fraud", "cy", "viewer")
    request = ana.approvals.request("fraud", version, "champion", comment="ship it")
    # The server records the signed-in reviewer, whatever name the client puts in the body.
    with pytest.raises(PermissionDenied, match="'ana' asked for or authored"):
        ana.approvals.review(request.request_id, "approve", username="bob")
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        cy.approvals.review(request.request_id, "approve", username="bob")
    with pytest.raises(PermissionDenied):
        people["eve"].approvals.review(request.request_id, "approve")  # no role at all
    with pytest.raises(PermissionDenied, match="guarded by an approval policy"):
        ana.aliases.set_alias("fraud", "champion", version)
    applied = bob.approvals.review(request.request_id, "approve", comment="checked")
    assert applied.status == "APPLIED" and applied.reviews[0].reviewer == "bob"
    assert backing.aliases.get_version_by_alias("fraud", "champion").version == version
    moved = [e for e in backing.registry.events("fraud") if e.action == "approve_alias"]
    assert [(e.username, e.after) for e in moved] == [
        ("bob", {"alias": "champion", "version": version})
    ]


def test_viewers_and_people_without_a_role_read_but_cannot_change_a_model(team) -> None:
    url, backing, people, tokens = team
    people["ana"].registry.create_registered_model("fraud")
    people["ana"].cards.edit("fraud", {"intended_use": "flag fraud"})
    backing.access.set_model_role("fraud", "cy", "viewer")
    assert people["cy"].registry.get_registered_model("fraud").name == "fraud"
    assert people["cy"].cards.get("fraud").fields == {"intended_use": "flag fraud"}
    for attempt in (
        lambda s: s.registry.set_registered_model_tag("fraud", "k", "v"),
        lambda s: s.cards.edit("fraud", {"limitations": "none"}),
        lambda s: s.registry.delete_registered_model("fraud"),
    ):
        with pytest.raises(PermissionDenied):
            attempt(people["cy"])
    # Without a role, the server's default (viewer) applies: eve may read, not write.
    assert people["eve"].registry.get_registered_model("fraud").name == "fraud"
    with pytest.raises(PermissionDenied, match="needs the editor role"):
        people["eve"].registry.update_registered_model("fraud", description="mine now")
    # The MLflow-compatible endpoints check the same per-model roles.
    headers = {"Authorization": f"Bearer {tokens['eve']}"}
    answer = httpx.patch(
        f"{url}/api/2.0/mlflow/registered-models/update",
        json={"name": "fraud", "description": "x"},
        headers=headers,
    )
    assert answer.status_code == 403
    answer = httpx.request(
        "DELETE",
        f"{url}/api/2.0/mlflow/registered-models/delete",
        json={"name": "fraud"},
        headers={"Authorization": f"Bearer {tokens['cy']}"},
    )
    assert answer.status_code == 403
    assert backing.registry.get_registered_model("fraud").name == "fraud"
    # Registry changes are readable as events through REST, with who did them.
    events = people["cy"].registry.events("fraud")
    assert [(e.action, e.username) for e in reversed(events)] == [
        ("create_registered_model", "ana"),
        ("edit_card", "ana"),
    ]


def test_roles_on_a_model_are_given_by_its_managers_through_the_sdk_remotely(
    team, monkeypatch
) -> None:
    url, backing, people, tokens = team
    people["ana"].registry.create_registered_model("fraud")
    people["ana"].model_roles.set_model_role("fraud", "bob", "editor")
    assert people["cy"].model_roles.model_roles("fraud") == {"ana": "manager", "bob": "editor"}
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        people["bob"].model_roles.set_model_role("fraud", "bob", "manager")
    import perennia

    monkeypatch.setenv("PERENNIA_TRACKING_URI", url)
    monkeypatch.setenv("PERENNIA_TRACKING_TOKEN", tokens["ana"])
    perennia.set_tracking_uri(None)
    perennia.registry.set_model_role("fraud", "cy", "manager")
    perennia.registry.set_model_role("fraud", "bob", None)
    assert backing.access.model_roles("fraud") == {"ana": "manager", "cy": "manager"}


def test_runs_belong_to_the_signed_in_user_whatever_the_client_claims(team) -> None:
    url, _backing, people, tokens = team
    experiment_id = people["ana"].experiments.create("claims")
    run = people["ana"].runs.create(experiment_id, run_name="native", user_id="mallory")
    assert run.info.user_id == "ana"
    answer = httpx.post(
        f"{url}/api/2.0/mlflow/runs/create",
        json={
            "experiment_id": experiment_id,
            "user_id": "mallory",
            "tags": [{"key": "mlflow.user", "value": "mallory"}],
        },
        headers={"Authorization": f"Bearer {tokens['ana']}"},
    )
    assert answer.status_code == 200
    assert answer.json()["run"]["info"]["user_id"] == "ana"
