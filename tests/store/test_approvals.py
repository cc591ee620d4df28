"""Approval policies, requests and reviews on SQLite and PostgreSQL: who may approve, gates, CAS."""

from __future__ import annotations

import threading

import pytest

from perennia.entities import MetricBatch
from perennia.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from perennia.store import open_store
from tests.store.helpers import hold_insert_then_race


@pytest.fixture
def store(sql_store_uri: str):
    opened = open_store(sql_store_uri)
    yield opened
    opened.close()


def _run_with(store, metrics: dict[str, float]) -> str:
    run = store.runs.create("0", user_id="ana", run_name="train")
    keys = list(metrics)
    store.log_batch(
        run.info.run_id,
        MetricBatch(keys, [metrics[k] for k in keys], [0] * len(keys), [1] * len(keys)),
    )
    return run.info.run_id


@pytest.fixture
def model(store) -> str:
    """A model 'fraud' with versions 1 (auc 0.91) and 2 (auc 0.80) authored by ana."""
    for user, admin in (("ana", False), ("bob", False), ("cy", False), ("root", True)):
        store.users.create_user(user, None, is_admin=admin)
    store.registry.create_registered_model("fraud", username="ana")
    for auc in (0.91, 0.80):
        run_id = _run_with(store, {"test_roc_auc": auc})
        store.versions.create_model_version(
            "fraud", f"runs:/{run_id}/model", run_id=run_id, username="ana"
        )
    store.access.set_model_role("fraud", "bob", "manager")
    store.access.set_model_role("fraud", "cy", "editor")
    return "fraud"


def test_a_guarded_alias_moves_only_when_a_manager_who_is_not_the_author_approves(
    store, model
) -> None:
    policy = store.approvals.set_policy(
        model, "champion", gates=["test_roc_auc >= 0.9"], username="bob"
    )
    assert (policy.required_approvals, policy.reviewer_role, str(policy.gates[0])) == (
        1,
        "manager",
        "test_roc_auc >= 0.9",
    )
    with pytest.raises(PermissionDenied, match="guarded by an approval policy"):
        store.aliases.set_alias(model, "champion", 1, username="bob")
    request = store.approvals.request(model, 1, "champion", comment="ship it", username="ana")
    assert request.status == "PENDING"
    assert request.unmet == ["1 more approval(s) by a manager (0 of 1)"]
    with pytest.raises(PermissionDenied, match="may not review it"):
        store.approvals.review(request.request_id, "approve", username="ana")
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        store.approvals.review(request.request_id, "approve", username="cy")
    with pytest.raises(NotFound):
        store.aliases.get_version_by_alias(model, "champion")
    done = store.approvals.review(
        request.request_id, "approve", comment="looks good", username="bob"
    )
    assert done.status == "APPLIED" and done.unmet == []
    assert [(r.reviewer, r.decision, r.comment) for r in done.reviews] == [
        ("bob", "approve", "looks good")
    ]
    assert store.aliases.get_version_by_alias(model, "champion").version == 1
    actions = [e.action for e in reversed(store.registry.events(model))]
    assert actions[-4:] == [
        "request_approval",
        "review_approval",
        "approve_alias",
        "apply_approval",
    ]
    with pytest.raises(Conflict, match="is APPLIED, not PENDING"):
        store.approvals.review(request.request_id, "reject", username="root")


def test_a_failing_gate_keeps_the_request_pending_and_says_why(store, model) -> None:
    store.approvals.set_policy(model, "champion", gates=["test_roc_auc >= 0.9", "latency < 5"])
    request = store.approvals.request(model, 2, "champion", username="ana")
    reviewed = store.approvals.review(request.request_id, "approve", username="root")
    assert reviewed.status == "PENDING"
    assert reviewed.unmet == [
        "gate test_roc_auc >= 0.9 fails: test_roc_auc is 0.8",
        "gate latency < 5: the source run has no metric 'latency'",
    ]
    with pytest.raises(NotFound):
        store.aliases.get_version_by_alias(model, "champion")


def test_two_approvals_are_needed_and_a_rejection_ends_the_request(store, model) -> None:
    store.users.create_user("dee", None)
    store.access.set_model_role(model, "dee", "manager")
    store.approvals.set_policy(model, "champion", required_approvals=2)
    first = store.approvals.request(model, 1, "champion", username="ana")
    assert store.approvals.review(first.request_id, "approve", username="bob").status == "PENDING"
    with pytest.raises(Conflict, match="already reviewed"):
        store.approvals.review(first.request_id, "approve", username="bob")
    assert store.approvals.review(first.request_id, "approve", username="dee").status == "APPLIED"
    second = store.approvals.request(model, 2, "champion", username="ana")
    rejected = store.approvals.review(
        second.request_id, "reject", comment="worse auc", username="bob"
    )
    assert rejected.status == "REJECTED"
    assert store.aliases.get_version_by_alias(model, "champion").version == 1
    assert [r.request_id for r in store.approvals.list_requests(model, status="REJECTED")] == [
        second.request_id
    ]


def test_without_a_policy_any_other_person_may_approve_and_the_author_may_cancel(
    store, model
) -> None:
    request = store.approvals.request(model, 1, "challenger", username="ana")
    with pytest.raises(Conflict, match="already asks"):
        store.approvals.request(model, 1, "challenger", username="ana")
    with pytest.raises(PermissionDenied, match="only 'ana'"):
        store.approvals.cancel(request.request_id, username="cy")
    assert store.approvals.cancel(request.request_id, username="ana").status == "CANCELLED"
    again = store.approvals.request(model, 1, "challenger", username="ana")
    assert store.approvals.review(again.request_id, "approve", username="cy").status == "APPLIED"
    # An unguarded alias can still be set directly.
    store.aliases.set_alias(model, "challenger", 2, username="cy")


def test_rollback_moves_a_guarded_alias_back_without_a_new_approval(
    store, model, tracking: str
) -> None:
    import perennia.registry as registry

    store.approvals.set_policy(model, "champion", reviewer_role="any")
    for version in (1, 2):
        request = store.approvals.request(model, version, "champion", username="ana")
        store.approvals.review(request.request_id, "approve", username="bob")
    assert store.aliases.get_version_by_alias(model, "champion").version == 2
    previous = registry.rollback(model, "champion")
    assert previous.version == 1
    assert store.aliases.get_version_by_alias(model, "champion").version == 1


def test_bad_policies_and_reviews_are_refused_with_the_field_named(store, model) -> None:
    for kwargs, message in (
        ({"required_approvals": -1}, "required_approvals"),
        ({"required_approvals": "2"}, "required_approvals"),
        ({"reviewer_role": "boss"}, "reviewer_role"),
        ({"gates": ["auc >> 3"]}, "is not of the form"),
        ({"gates": ["auc >= nan"]}, "finite"),
        ({"required_approvals": 0}, "at least one approval or one gate"),
    ):
        with pytest.raises(InvalidInput, match=message):
            store.approvals.set_policy(model, "champion", **kwargs)
    assert store.approvals.get_policy(model, "champion") is None
    with pytest.raises(NotFound):
        store.approvals.set_policy("nope", "champion")
    request = store.approvals.request(model, 1, "champion", username="ana")
    with pytest.raises(InvalidInput, match="decision"):
        store.approvals.review(request.request_id, "maybe", username="bob")
    with pytest.raises(InvalidInput, match="named reviewer"):
        store.approvals.review(request.request_id, "approve")
    with pytest.raises(InvalidInput, match="request id"):
        store.approvals.get_request("x")
    with pytest.raises(NotFound, match="does not exist"):
        store.approvals.get_request(999)
    with pytest.raises(NotFound):
        store.approvals.request(model, 9, "champion", username="ana")
    assert store.approvals.get_request(request.request_id).status == "PENDING"


def test_policies_and_requests_follow_a_rename_and_go_with_a_delete(store, model) -> None:
    store.approvals.set_policy(model, "champion")
    store.approvals.request(model, 1, "champion", username="ana")
    store.registry.rename_registered_model(model, "fraud2")
    assert store.approvals.get_policy("fraud2", "champion") is not None
    assert [r.name for r in store.approvals.list_requests("fraud2")] == ["fraud2"]
    assert store.access.model_roles("fraud2") == {"bob": "manager", "cy": "editor"}
    store.registry.delete_registered_model("fraud2")
    store.registry.create_registered_model("fraud2")
    assert store.approvals.list_policies("fraud2") == []
    assert store.approvals.list_requests("fraud2") == []


def test_concurrent_approvals_apply_exactly_once(store, model) -> None:
    store.users.create_user("dee", None)
    store.access.set_model_role(model, "dee", "manager")
    store.approvals.set_policy(model, "champion", required_approvals=2)
    request = store.approvals.request(model, 1, "champion", username="ana")
    errors: list[Exception] = []
    barrier = threading.Barrier(2)

    def approve(who: str) -> None:
        barrier.wait()
        try:
            store.approvals.review(request.request_id, "approve", username=who)
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("bob", "dee")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = store.approvals.get_request(request.request_id)
    assert final.status == "APPLIED" and len(final.reviews) == 2
    moves = [e for e in store.registry.events(model) if e.action == "approve_alias"]
    assert len(moves) == 1


def test_two_people_asking_at_once_make_one_pending_request(postgres_uri: str) -> None:
    """The unique index decides: the racer's check saw no request, its insert must not pass.

    Staged on PostgreSQL, where two writers can both pass the check (SQLite serialises them).
    """
    store = open_store(postgres_uri)
    try:
        store.registry.create_registered_model("fraud")
        store.versions.create_model_version("fraud", "runs:/x/model")
        error = hold_insert_then_race(
            postgres_uri,
            "INSERT INTO approval_requests (name, version, alias, requested_by, requested_time, "
            "comment, status) VALUES ('fraud', 1, 'champion', 'cy', 1, '', 'PENDING')",
            lambda: store.approvals.request("fraud", 1, "champion", username="ana"),
        )
        assert isinstance(error, Conflict) and "at the same time" in str(error), repr(error)
        assert len(store.approvals.list_requests("fraud", status="PENDING")) == 1
    finally:
        store.close()
