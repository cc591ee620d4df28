"""The deployments contract: stored deployments, compare-and-set updates, events and the alias.

A deployment names a registered model's versions and their traffic; every change is a registry
event, and the deployment's alias follows its stable version under the approval rules.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import pytest

from perennia.entities import BatchingConfig, CanaryPolicy, Deployment, Variant
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied

MODEL = "fraud"


def _model(store, versions: int = 3, name: str = MODEL) -> None:
    store.registry.create_registered_model(name)
    for _ in range(versions):
        store.versions.create_model_version(name, f"runs:/{'a' * 32}/model")


def _deployment(name: str = "fraud-api", version: int = 1, **changes) -> Deployment:
    base = Deployment(name, MODEL, "single", (Variant("stable", version, 100.0),), revision=0)
    return replace(base, **changes)


def _with_canary(d: Deployment, version: int, weight: float) -> Deployment:
    stable = replace(d.stable, weight=100.0 - weight)
    return replace(d, strategy="canary", variants=(stable, Variant("canary", version, weight)))


def _alias(store, alias: str = "champion", name: str = MODEL) -> int | None:
    try:
        return store.aliases.get_version_by_alias(name, alias).version
    except NotFound:
        return None


def test_deployments_are_created_read_and_listed_by_name(store, recorded) -> None:
    _model(store)
    _model(store, 1, name="churn")
    created = store.deployments.create(_deployment(description="card fraud"), username="ana")
    assert (created.revision, created.created_by, created.description) == (
        1,
        recorded("ana"),
        "card fraud",
    )
    assert created.creation_time > 0 and created.last_updated_time == created.creation_time
    assert store.deployments.get("fraud-api") == created
    store.deployments.create(_deployment("fraud-batch"))
    store.deployments.create(replace(_deployment("churn-api"), model_name="churn"))
    assert [d.name for d in store.deployments.list()] == ["churn-api", "fraud-api", "fraud-batch"]
    assert [d.name for d in store.deployments.list(MODEL)] == ["fraud-api", "fraud-batch"]
    with pytest.raises(AlreadyExists, match="'fraud-api' already exists"):
        store.deployments.create(_deployment(version=2))
    assert store.deployments.get("fraud-api") == created


def test_the_store_sets_revision_creator_and_times_itself(store, recorded) -> None:
    _model(store)
    claimed = _deployment(revision=41, created_by="mallory", creation_time=5, last_updated_time=6)
    created = store.deployments.create(claimed, username="ana")
    assert (created.revision, created.created_by) == (1, recorded("ana"))
    assert created.creation_time > 6
    changed = store.deployments.update(
        replace(created, revision=77, created_by="mallory", creation_time=1, description="x"),
        expected_revision=1,
        action="edit",
    )
    assert (changed.revision, changed.created_by, changed.creation_time) == (
        2,
        created.created_by,
        created.creation_time,
    )
    assert changed.last_updated_time >= created.last_updated_time
    assert store.deployments.get("fraud-api") == changed


def test_nested_settings_round_trip(store) -> None:
    _model(store)
    policy = CanaryPolicy(steps=(10.0, 100.0), min_requests=5, min_metric={"auc": 0.8})
    wanted = _deployment(
        strategy="ab",
        variants=(Variant("a", 1, 60.0), Variant("b", 2, 40.0), Variant("s", 3, 0.0, True)),
        policy=policy,
        batching=BatchingConfig(False, 128, 2.5),
        sticky_header="x-user-id",
        step=1,
        step_started=1234,
        previous=(Variant("stable", 1, 100.0),),
        alias=None,
    )
    stored = store.deployments.get(store.deployments.create(wanted).name)
    assert replace(stored, revision=0, created_by=None, creation_time=0, last_updated_time=0) == (
        replace(wanted, created_by=None)
    )
    assert stored.shadows == (Variant("s", 3, 0.0, True),) and stored.stable.name == "a"


def test_an_update_is_compare_and_set_on_the_revision(store) -> None:
    _model(store)
    first = store.deployments.create(_deployment())
    mine = store.deployments.update(
        _with_canary(first, 2, 5.0), expected_revision=1, action="start_canary"
    )
    assert mine.revision == 2 and mine.variant("canary").weight == 5.0
    with pytest.raises(Conflict, match="revision"):
        store.deployments.update(
            replace(first, description="stale"), expected_revision=1, action="edit"
        )
    assert store.deployments.get("fraud-api") == mine
    assert [e.action for e in store.deployments.events("fraud-api")] == [
        "deploy_start_canary",
        "deploy_create",
    ]


def test_of_writers_racing_from_one_revision_exactly_one_wins(store) -> None:
    _model(store)
    start = store.deployments.create(_deployment())
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: dict[int, str] = {}

    def write(weight: int) -> None:
        barrier.wait()
        try:
            store.deployments.update(
                _with_canary(start, 2, float(weight)), expected_revision=1, action="set_traffic"
            )
            outcomes[weight] = "won"
        except Conflict:
            outcomes[weight] = "conflict"

    threads = [threading.Thread(target=write, args=(w,)) for w in range(1, writers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [w for w, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == writers and len(winners) == 1
    stored = store.deployments.get("fraud-api")
    assert stored.revision == 2 and stored.variant("canary").weight == winners[0]
    assert len(store.deployments.events("fraud-api")) == 2


def _bad_changes(d: Deployment) -> list[tuple[Deployment, type, str]]:
    """Return (bad deployment, error class, message fragment) pairs derived from `d`."""
    stable = d.stable
    return [
        (replace(d, variants=(stable, Variant("canary", 2, 10.0))), InvalidInput, "sum to 100"),
        (_with_canary(d, 99, 10.0), NotFound, "no version 99"),
        (
            replace(d, variants=(Variant("x", 1, 50.0), Variant("x", 2, 50.0))),
            InvalidInput,
            "unique",
        ),
        (replace(d, strategy="big-bang"), InvalidInput, "strategy must be one of"),
        (replace(d, variants=(Variant("stable", 1, 150.0),)), InvalidInput, "weight"),
        (_with_canary(d, 2, -5.0), InvalidInput, "weight"),
        (_with_canary(d, 2, math.nan), InvalidInput, "finite"),
        (replace(d, variants=(Variant("stable", 1, 0.0),)), InvalidInput, "get traffic"),
        (replace(d, variants=(stable, Variant("s", 2, 5.0, True))), InvalidInput, "shadow"),
        (replace(d, variants=(Variant("stable", -1, 100.0),)), InvalidInput, "version"),
        (replace(d, variants=(Variant("stable", 2**40, 100.0),)), InvalidInput, "version"),
        (replace(d, batching=BatchingConfig(True, 0, 5.0)), InvalidInput, "max_batch_size"),
        (replace(d, batching=BatchingConfig(True, 10**9, 5.0)), InvalidInput, "max_batch_size"),
        (replace(d, batching=BatchingConfig(True, 8, -1.0)), InvalidInput, "max_wait_ms"),
        (replace(d, batching=BatchingConfig(True, 8, 1e12)), InvalidInput, "max_wait_ms"),
        (replace(d, policy=CanaryPolicy(steps=(50.0, 25.0, 100.0))), InvalidInput, "increase"),
        (replace(d, policy=CanaryPolicy(steps=(5.0, 50.0))), InvalidInput, "end at 100"),
        (replace(d, policy=CanaryPolicy(steps=(0.0, 100.0))), InvalidInput, "policy.steps"),
        (replace(d, policy=CanaryPolicy(on_no_data="ignore")), InvalidInput, "on_no_data"),
        (replace(d, policy=CanaryPolicy(min_requests=-3)), InvalidInput, "min_requests"),
        (replace(d, step=3), InvalidInput, "step"),
        (replace(d, state="winning"), InvalidInput, "state must be one of"),
        (replace(d, alias="latest"), InvalidInput, "reserved"),
        (replace(d, sticky_header="x user"), InvalidInput, "sticky_header"),
        (replace(d, sticky_header="x-user\n"), InvalidInput, "sticky_header"),
        (replace(d, variants=(Variant("stable\n", 1, 100.0),)), InvalidInput, "variant name"),
    ]


def test_bad_deployments_are_refused_and_leave_the_stored_state_unchanged(store) -> None:
    _model(store)
    stored = store.deployments.create(_deployment())
    for bad, error, fragment in _bad_changes(stored):
        with pytest.raises(error, match=fragment):
            store.deployments.update(bad, expected_revision=1, action="set_traffic")
        with pytest.raises(error, match=fragment):
            store.deployments.create(replace(bad, name="fraud-new"))
    assert store.deployments.get("fraud-api") == stored
    assert [d.name for d in store.deployments.list()] == ["fraud-api"]
    assert [e.action for e in store.deployments.events("fraud-api")] == ["deploy_create"]
    assert _alias(store) == 1


def test_unknown_models_deployments_and_model_changes_are_refused(store) -> None:
    _model(store)
    with pytest.raises(NotFound, match="'ghost' does not exist"):
        store.deployments.create(replace(_deployment(), model_name="ghost"))
    for call in (
        lambda: store.deployments.get("nowhere"),
        lambda: store.deployments.delete("nowhere"),
        lambda: store.deployments.events("nowhere"),
        lambda: store.deployments.update(_deployment("nowhere"), expected_revision=1, action="x"),
    ):
        with pytest.raises(NotFound, match="'nowhere' does not exist"):
            call()
    _model(store, 1, name="churn")
    stored = store.deployments.create(_deployment())
    with pytest.raises(InvalidInput, match="cannot change"):
        store.deployments.update(
            replace(stored, model_name="churn"), expected_revision=1, action="edit"
        )
    with pytest.raises(InvalidInput, match="deployment name"):
        store.deployments.create(_deployment("team/fraud"))
    for action in ("Drop Table", "promote\n"):
        with pytest.raises(InvalidInput, match="action"):
            store.deployments.update(stored, expected_revision=1, action=action)


def test_every_change_is_an_event_of_its_deployment_newest_first(store, recorded) -> None:
    _model(store)
    created = store.deployments.create(_deployment(), username="ana")
    store.deployments.create(_deployment("other"))
    canary = store.deployments.update(
        _with_canary(created, 2, 5.0),
        expected_revision=1,
        action="start_canary",
        detail={"reason": "new features"},
        username="bo",
    )
    events = store.deployments.events("fraud-api")
    assert [(e.action, e.username, e.model_name) for e in events] == [
        ("deploy_start_canary", recorded("bo"), MODEL),
        ("deploy_create", recorded("ana"), MODEL),
    ]
    newest = events[0]
    assert newest.after["name"] == "fraud-api" and newest.after["revision"] == 2
    assert newest.after["detail"] == {"reason": "new features"}
    assert Deployment.from_dict(newest.after) == canary
    assert Deployment.from_dict(newest.before) == created
    assert events[1].before is None
    assert len(store.deployments.events("fraud-api", limit=1)) == 1
    # They are registry events of the model too.
    model_actions = [e.action for e in store.registry.events(MODEL)]
    assert "deploy_start_canary" in model_actions and model_actions.count("deploy_create") == 2


def test_the_alias_follows_the_stable_version(store) -> None:
    _model(store)
    created = store.deployments.create(_deployment())
    assert _alias(store) == 1
    canary = store.deployments.update(
        _with_canary(created, 2, 25.0), expected_revision=1, action="start_canary"
    )
    assert _alias(store) == 1  # the stable variant did not change
    promoted = store.deployments.update(
        replace(canary, variants=(Variant("stable", 2, 100.0),), previous=created.variants),
        expected_revision=2,
        action="promote",
    )
    assert _alias(store) == 2
    store.deployments.update(
        replace(promoted, variants=created.variants, previous=()),
        expected_revision=3,
        action="rollback",
    )
    assert _alias(store) == 1
    # A deployment without an alias leaves the registry's aliases alone.
    store.deployments.create(_deployment("quiet", version=3, alias=None))
    assert _alias(store) == 1
    store.deployments.create(_deployment("shadowing", version=3, alias="shadow-prod"))
    assert _alias(store, "shadow-prod") == 3


def test_a_guarded_alias_refuses_promotion_unless_approved_and_allows_rollback(store) -> None:
    _model(store)
    created = store.deployments.create(_deployment())
    store.approvals.set_policy(MODEL, "champion", reviewer_role="any", allow_self_approval=True)
    to_two = replace(created, variants=(Variant("stable", 2, 100.0),), previous=created.variants)
    with pytest.raises(PermissionDenied, match="perennia models request fraud 2 champion"):
        store.deployments.update(to_two, expected_revision=1, action="promote")
    assert store.deployments.get("fraud-api") == created and _alias(store) == 1
    # A guarded alias also stops a new deployment from serving an unapproved version.
    with pytest.raises(PermissionDenied, match="guarded"):
        store.deployments.create(_deployment("fraud-two", version=2))
    request = store.approvals.request(MODEL, 2, "champion", username="ana")
    assert store.approvals.review(request.request_id, "approve", username="bo").status == "APPLIED"
    promoted = store.deployments.update(to_two, expected_revision=1, action="promote")
    assert promoted.stable.version == 2 and _alias(store) == 2
    # "rollback" may go back one step of the alias's own history, never anywhere else.
    to_three = replace(promoted, variants=(Variant("stable", 3, 100.0),))
    with pytest.raises(PermissionDenied, match="guarded"):
        store.deployments.update(to_three, expected_revision=2, action="rollback")
    back = replace(promoted, variants=created.variants, previous=())
    rolled = store.deployments.update(back, expected_revision=2, action="rollback")
    assert rolled.stable.version == 1 and _alias(store) == 1
    assert store.registry.events(MODEL)[1].action == "rollback_alias"


def test_deleting_keeps_the_history_and_a_new_deployment_starts_its_own(store) -> None:
    _model(store)
    store.deployments.create(_deployment())
    store.deployments.delete("fraud-api", username="ana")
    with pytest.raises(NotFound):
        store.deployments.get("fraud-api")
    assert store.deployments.list() == []
    assert [e.action for e in store.deployments.events("fraud-api")] == [
        "deploy_delete",
        "deploy_create",
    ]
    assert store.deployments.events("fraud-api")[0].before["name"] == "fraud-api"
    assert _alias(store) == 1  # deleting a deployment leaves the registry alone
    again = store.deployments.create(_deployment(version=2, alias=None))
    assert again.revision == 1
    assert [e.action for e in store.deployments.events("fraud-api")] == ["deploy_create"]


def test_an_archived_version_cannot_be_deployed(store) -> None:
    _model(store)
    store.versions.update_model_version(MODEL, 2, state="archived")
    with pytest.raises(InvalidInput, match="archived"):
        store.deployments.create(_deployment(version=2))
    created = store.deployments.create(_deployment(version=1))
    with pytest.raises(InvalidInput, match="archived"):
        store.deployments.update(
            _with_canary(created, 2, 10.0), expected_revision=created.revision, action="canary"
        )
    assert store.deployments.get("fraud-api").revision == created.revision
    assert [(v.name, v.version) for v in store.deployments.get("fraud-api").variants] == [
        ("stable", 1)
    ]
