"""Webhooks for deployments' events: `deploy_<action>` by name, or all of them with `deploy_*`."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from perennia.entities import Deployment, Variant
from perennia.errors import InvalidInput
from perennia.registry.webhooks import dispatch_due, verify_signature
from perennia.store import open_store
from perennia.store.sql.webhooks import MAX_EVENTS
from tests.registry import test_webhooks

# test_webhooks's fixtures, registered here too: its HTTP receiver and a SQL store.
receiver = test_webhooks.receiver
sql_store = test_webhooks.sql_store


def _roll_out(store, model: str = "fraud") -> None:
    """Register two versions, deploy the first, promote the second, delete the deployment."""
    store.registry.create_registered_model(model)
    for _ in range(2):
        store.versions.create_model_version(model, "runs:/x/model")
    name = f"{model}-api"
    first = Deployment(name, model, "single", (Variant("stable", 1, 100.0),), revision=0)
    created = store.deployments.create(first)
    store.deployments.update(
        replace(created, variants=(Variant("stable", 2, 100.0),), previous=created.variants),
        expected_revision=1,
        action="promote",
    )
    store.deployments.delete(name)


def _seen(store, hook) -> list[tuple[str, str]]:
    """Return (model, action) of the events queued for `hook`, oldest first."""
    events = {e.event_id: (e.model_name, e.action) for e in store.registry.events(limit=1000)}
    deliveries = store.webhooks.deliveries(hook.webhook_id, limit=1000)
    return [events[d.event_id] for d in sorted(deliveries, key=lambda d: d.event_id)]


def test_the_deploy_pattern_receives_every_deployment_event_and_nothing_else(sql_store):
    every, _ = sql_store.webhooks.create("https://ci.example.com/deploys", events=["deploy_*"])
    churn, _ = sql_store.webhooks.create(
        "https://ci.example.com/churn", events=["deploy_*"], model_name="churn"
    )
    _roll_out(sql_store, "fraud")
    _roll_out(sql_store, "churn")
    assert every.events == ["deploy_*"] and sql_store.webhooks.list()[0].events == ["deploy_*"]
    assert _seen(sql_store, every) == [
        ("fraud", "deploy_create"),
        ("fraud", "deploy_promote"),
        ("fraud", "deploy_delete"),
        ("churn", "deploy_create"),
        ("churn", "deploy_promote"),
        ("churn", "deploy_delete"),
    ]
    assert _seen(sql_store, churn) == _seen(sql_store, every)[3:]


def test_an_exact_deploy_action_receives_only_that_action(sql_store):
    promotions, _ = sql_store.webhooks.create(
        "https://ci.example.com/promoted", events=["deploy_promote", "set_alias"]
    )
    created, _ = sql_store.webhooks.create(
        "https://ci.example.com/created", events=["deploy_create"]
    )
    _roll_out(sql_store)
    # Promoting moves the deployment's alias, which is the registry's own set_alias event.
    assert _seen(sql_store, promotions) == [
        ("fraud", "set_alias"),
        ("fraud", "set_alias"),
        ("fraud", "deploy_promote"),
    ]
    assert _seen(sql_store, created) == [("fraud", "deploy_create")]


def test_a_deploy_event_is_delivered_signed_with_its_action(sql_store, receiver):
    _hook, secret = sql_store.webhooks.create(receiver.url(), events=["deploy_*"])
    _roll_out(sql_store)
    assert dispatch_due(sql_store) == {"delivered": 3, "pending": 0, "failed": 0}
    requests = receiver.on("/hook")
    for request in requests:
        assert verify_signature(secret, request["headers"], request["body"])
        action = json.loads(request["body"])["action"]
        assert request["headers"]["X-Perennia-Event"] == action
    bodies = sorted((json.loads(r["body"]) for r in requests), key=lambda b: b["event_id"])
    assert [b["action"] for b in bodies] == ["deploy_create", "deploy_promote", "deploy_delete"]
    promote = bodies[1]
    assert promote["model_name"] == "fraud" and promote["after"]["name"] == "fraud-api"
    assert promote["after"]["variants"][0]["version"] == 2


def test_archiving_is_an_action_a_webhook_can_subscribe_to(sql_store):
    hook, _ = sql_store.webhooks.create(
        "https://ci.example.com/archive", events=["archive_model_version"]
    )
    sql_store.registry.create_registered_model("old")
    sql_store.versions.create_model_version("old", "runs:/x/model")
    sql_store.versions.update_model_version("old", 1, state="archived")
    assert _seen(sql_store, hook) == [("old", "archive_model_version")]


@pytest.mark.parametrize(
    "event",
    ["deploy_", "deploy", "deploy*", "deploy_Promote", "deploy_set traffic", "deploy_" + "x" * 42]
    + ["*", "deploy_**", "create_*", "Deploy_*", "deploy_promote\n"],
)
def test_malformed_deploy_actions_are_refused_naming_what_is_accepted(sql_store, event):
    with pytest.raises(InvalidInput, match="deploy_<action>") as refused:
        sql_store.webhooks.create("https://ci.example.com/h", events=[event])
    assert f"events: {event!r}" in str(refused.value) and "deploy_*" in str(refused.value)
    assert sql_store.webhooks.list() == []


def test_a_subscription_names_at_most_a_hundred_actions(sql_store):
    many = [f"deploy_step_{i}" for i in range(MAX_EVENTS + 1)]
    with pytest.raises(InvalidInput, match=f"at most {MAX_EVENTS}"):
        sql_store.webhooks.create("https://ci.example.com/h", events=many)
    hook, _ = sql_store.webhooks.create("https://ci.example.com/h", events=many[:MAX_EVENTS])
    assert len(hook.events) == MAX_EVENTS


def test_an_admin_subscribes_to_deploy_events_over_http(rest_server):
    url, backing, token = rest_server
    admin = open_store(url, token=token)
    try:
        hook, _ = admin.webhooks.create("https://ci.example.com/d", events=["deploy_*"])
        assert admin.webhooks.list() == [hook] and hook.events == ["deploy_*"]
        with pytest.raises(InvalidInput, match="deploy_<action>"):
            admin.webhooks.create("https://ci.example.com/d", events=["deploy_Bad"])
        _roll_out(backing)
        queued = admin.webhooks.deliveries(hook.webhook_id)
        events = {e.event_id: e.action for e in backing.registry.events(limit=100)}
        assert sorted(events[d.event_id] for d in queued) == [
            "deploy_create",
            "deploy_delete",
            "deploy_promote",
        ]
    finally:
        admin.close()
