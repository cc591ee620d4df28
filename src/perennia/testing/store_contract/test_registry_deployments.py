"""The registry and its deployments stay consistent: renames carry deployments, removals refuse.

A deployment names its model and versions by key, without foreign keys, so the registry is the
one that keeps them right: renaming a model moves its deployments along, and a model or version
a deployment still serves (live, idle, shadow, or as the rollback target) cannot be deleted or
archived. Every refusal leaves the stored state exactly as it was.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perennia.entities import Deployment, Variant, VersionState
from perennia.errors import Conflict, NotFound

MODEL = "fraud"
VERSIONS = 6


def _model(store, versions: int = VERSIONS, name: str = MODEL) -> None:
    store.registry.create_registered_model(name)
    for _ in range(versions):
        store.versions.create_model_version(name, f"runs:/{'a' * 32}/model")


def _single(name: str, version: int, model: str = MODEL, **changes) -> Deployment:
    base = Deployment(name, model, "single", (Variant("stable", version, 100.0),), revision=0)
    return replace(base, **changes)


def _serving(store) -> None:
    """Deploy fraud: v1 stable, v2 canary, v3 shadow; v4 live and v5 idle, v6 the rollback."""
    store.deployments.create(
        replace(
            _single("fraud-api", 1),
            strategy="canary",
            variants=(
                Variant("stable", 1, 90.0),
                Variant("canary", 2, 10.0),
                Variant("mirror", 3, 0.0, True),
            ),
        )
    )
    store.deployments.create(
        replace(
            _single("fraud-bg", 4, alias=None),
            strategy="blue-green",
            variants=(Variant("blue", 4, 100.0), Variant("green", 5, 0.0)),
            previous=(Variant("blue", 6, 100.0),),
        )
    )


def _snapshot(store, name: str = MODEL) -> tuple:
    """Return everything a refused change must leave as it was."""
    versions = store.versions.search_model_versions(name=name, max_results=1000).items
    return (
        store.registry.get_registered_model(name),
        sorted(versions, key=lambda v: v.version),
        store.deployments.list(),
        [e.event_id for e in store.registry.events(limit=10_000)],
    )


def test_renaming_a_model_moves_its_deployments_to_the_new_name(store, recorded) -> None:
    _model(store, 2)
    _model(store, 1, name="churn")
    api = store.deployments.create(_single("fraud-api", 1))
    store.deployments.create(_single("fraud-quiet", 2, alias=None))
    other = store.deployments.create(_single("churn-api", 1, model="churn"))

    store.registry.rename_registered_model(MODEL, "fraud-v2", username="ana")

    assert [d.name for d in store.deployments.list("fraud-v2")] == ["fraud-api", "fraud-quiet"]
    assert store.deployments.list(MODEL) == []
    assert store.deployments.get("churn-api") == other
    moved = store.deployments.get("fraud-api")
    assert (moved.model_name, moved.revision) == ("fraud-v2", 2)
    assert replace(moved, model_name=MODEL, revision=1, last_updated_time=0) == replace(
        api, last_updated_time=0
    )
    (renamed, created) = store.deployments.events("fraud-api")
    assert (renamed.action, renamed.model_name, renamed.username) == (
        "deploy_rename_model",
        "fraud-v2",
        recorded("ana"),
    )
    assert renamed.before["model_name"] == MODEL and renamed.after["model_name"] == "fraud-v2"
    assert created.action == "deploy_create"
    # A controller still holding the old state loses its compare-and-set and re-reads.
    with pytest.raises(Conflict, match="revision"):
        store.deployments.update(api, expected_revision=1, action="edit")
    promoted = store.deployments.update(
        replace(moved, variants=(Variant("stable", 2, 100.0),), previous=moved.variants),
        expected_revision=2,
        action="promote",
    )
    assert promoted.model_name == "fraud-v2"
    assert store.aliases.get_version_by_alias("fraud-v2", "champion").version == 2
    # The old name is free again and starts with no deployments.
    _model(store, 1)
    assert store.deployments.list(MODEL) == []
    store.deployments.create(_single("fraud-new", 1, alias=None))
    assert [d.name for d in store.deployments.list(MODEL)] == ["fraud-new"]


def test_deleting_a_deployed_model_is_refused_naming_its_deployments(store) -> None:
    _model(store)
    _serving(store)
    before = _snapshot(store)
    with pytest.raises(Conflict, match="still deployed by 'fraud-api', 'fraud-bg'") as refused:
        store.registry.delete_registered_model(MODEL)
    message = str(refused.value)
    assert "perennia deploy delete fraud-api" in message and "\n" not in message
    assert "perennia deploy delete fraud-bg" in message
    assert _snapshot(store) == before

    store.deployments.delete("fraud-api")
    with pytest.raises(Conflict, match="deployed by 'fraud-bg'; "):
        store.registry.delete_registered_model(MODEL)
    store.deployments.delete("fraud-bg")
    store.registry.delete_registered_model(MODEL)
    with pytest.raises(NotFound):
        store.registry.get_registered_model(MODEL)


@pytest.mark.parametrize(
    ("version", "deployment", "part"),
    [
        (1, "fraud-api", "variant 'stable'"),
        (2, "fraud-api", "variant 'canary'"),
        (3, "fraud-api", "variant 'mirror'"),
        (4, "fraud-bg", "variant 'blue'"),
        (5, "fraud-bg", "variant 'green'"),
        (6, "fraud-bg", "previous"),
    ],
)
def test_a_served_version_cannot_be_deleted_or_archived(store, version, deployment, part) -> None:
    _model(store)
    _serving(store)
    before = _snapshot(store)
    served = rf"version {version} of 'fraud' is served by deployment '{deployment}' \({part}\)"
    with pytest.raises(Conflict, match=served + ".*before deleting it"):
        store.versions.delete_model_version(MODEL, version)
    assert _snapshot(store) == before
    with pytest.raises(Conflict, match=served + ".*before archiving it"):
        store.versions.update_model_version(MODEL, version, state="archived")
    assert _snapshot(store) == before


def test_a_refusal_names_every_deployment_and_part_serving_the_version(store) -> None:
    _model(store, 2)
    store.deployments.create(_single("a-api", 1))
    store.deployments.create(
        replace(
            _single("b-api", 2, alias=None),
            variants=(Variant("stable", 2, 100.0), Variant("shadow", 1, 0.0, True)),
            previous=(Variant("stable", 1, 100.0),),
        )
    )
    with pytest.raises(Conflict) as refused:
        store.versions.delete_model_version(MODEL, 1)
    assert "deployment 'a-api' (variant 'stable'), 'b-api' (variant 'shadow', previous)" in str(
        refused.value
    )
    assert "perennia deploy delete" in str(refused.value)


def test_deprecating_a_served_version_is_allowed(store) -> None:
    _model(store)
    _serving(store)
    deployments = store.deployments.list()
    for version in (1, 2, 3, 6):
        changed = store.versions.update_model_version(MODEL, version, state="deprecated")
        assert changed.state == VersionState.DEPRECATED
    described = store.versions.update_model_version(MODEL, 5, description="idle green")
    assert described.description == "idle green"
    assert store.deployments.list() == deployments


def test_a_version_no_deployment_serves_any_more_can_be_archived_and_deleted(store) -> None:
    _model(store)
    _serving(store)
    stored = store.deployments.get("fraud-api")
    # The canary is dropped, and nothing keeps version 2 for a rollback.
    store.deployments.update(
        replace(stored, strategy="single", variants=(Variant("stable", 1, 100.0),)),
        expected_revision=stored.revision,
        action="rollback",
    )
    archived = store.versions.update_model_version(MODEL, 2, state="archived")
    assert archived.state == VersionState.ARCHIVED
    store.versions.delete_model_version(MODEL, 3)
    with pytest.raises(NotFound):
        store.versions.get_model_version(MODEL, 3)
    # Deleting a deployment frees every version it served, its rollback target included.
    store.deployments.delete("fraud-bg")
    for version in (4, 5, 6):
        store.versions.delete_model_version(MODEL, version)
    assert [v.version for v in _snapshot(store)[1]] == [1, 2]
