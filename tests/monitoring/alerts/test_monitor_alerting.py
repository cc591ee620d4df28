"""A monitor's alert rules over its windows: fire and resolve once, cooldown, stored events that a
re-run never doubles, a signed webhook whose secret comes from the environment, the bus."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

import perennia
from perennia.data.session import current_store
from perennia.errors import InvalidInput
from perennia.monitoring import create_monitor, log_reference_profile
from perennia.monitoring.monitors.alerting import BUS, apply_alerts
from perennia.monitoring.monitors.window import WindowValues
from perennia.registry.webhooks import verify_signature

HOUR = 3_600_000
SECRET = "whsec_monitor-test-secret-0001"
RULE = {
    "name": "InputsDrifted",
    "monitor": "inputs",
    "value": "drift.share_drifted",
    "op": ">",
    "threshold": 0.2,
    "cooldown_ms": 3 * HOUR,
}


def windows(*shares: float | None) -> list[WindowValues]:
    return [
        WindowValues(i * HOUR, (i + 1) * HOUR, "ok", {"drift.share_drifted": share})
        for i, share in enumerate(shares)
    ]


@pytest.fixture
def reference(tracking) -> str:
    with perennia.start_run():
        return log_reference_profile(pd.DataFrame({"x": [0.0, 1.0, 2.0]}))


def test_an_alert_fires_and_resolves_once_and_respects_its_cooldown(reference, caplog):
    monitor = create_monitor(
        "inputs", reference=reference, alerts=[RULE], channels=[{"type": "log"}]
    )
    heard = []
    unsubscribe = BUS.subscribe(heard.append)
    try:
        with caplog.at_level(logging.INFO):
            # fire, stay firing, resolve, hold again inside the cooldown, fire after it
            events = apply_alerts(current_store(), monitor, windows(0.5, 0.6, 0.0, 0.5, 0.5, 0.5))
    finally:
        unsubscribe()
    assert [(e.status, e.starts_at_ms) for e in events] == [
        ("firing", 1 * HOUR),
        ("resolved", 1 * HOUR),
        ("firing", 6 * HOUR),
    ]
    assert heard == events
    assert sum("InputsDrifted" in r.getMessage() for r in caplog.records) == 3
    stored = current_store().alerts.list_alert_events(monitor="inputs")
    assert [e.status for e in stored] == ["firing", "resolved", "firing"]
    # Running over the same windows again (a re-run) stores and sends nothing new.
    assert apply_alerts(current_store(), monitor, windows(0.5, 0.6, 0.0, 0.5, 0.5, 0.5)) == []
    assert len(current_store().alerts.list_alert_events(monitor="inputs")) == 3


def test_events_go_to_a_signed_webhook_whose_secret_is_read_from_the_environment(
    reference, receiver, monkeypatch
):
    monkeypatch.setenv("PERENNIA_CHANNEL_INPUTS_HOOK", SECRET)
    hook = {"type": "webhook", "url": receiver.url(), "secret_env": "PERENNIA_CHANNEL_INPUTS_HOOK"}
    monitor = create_monitor("inputs", reference=reference, alerts=[RULE], channels=[hook])
    assert SECRET not in json.dumps(current_store().monitors.get_monitor("inputs").config)
    apply_alerts(current_store(), monitor, windows(0.5))
    (request,) = receiver.requests
    assert verify_signature(SECRET, request["headers"], request["body"])
    payload = json.loads(request["body"])
    assert payload["version"] == "4" and payload["status"] == "firing"
    assert payload["alerts"][0]["labels"]["alertname"] == "InputsDrifted"


def test_secrets_written_into_a_channel_are_refused(reference):
    hook = {"type": "webhook", "url": "https://hooks.example.com/a", "secret": SECRET}
    with pytest.raises(InvalidInput, match="secret_env"):
        create_monitor("inputs", reference=reference, alerts=[RULE], channels=[hook])
    with pytest.raises(InvalidInput):
        create_monitor("inputs", reference=reference, channels=[{"type": "pager"}])
    with pytest.raises(InvalidInput):
        create_monitor("inputs", reference=reference, alerts=[{**RULE, "op": "~"}])
    assert perennia.monitoring.list_monitors() == []


def test_a_second_run_from_the_same_state_stores_and_sends_nothing_twice(reference):
    from perennia.entities.monitoring import AlertStateRecord
    from perennia.monitoring.alerts.evaluator import evaluate
    from perennia.monitoring.alerts.rules import AlertRule

    monitor = create_monitor("inputs", reference=reference, alerts=[RULE])
    heard = []
    unsubscribe = BUS.subscribe(heard.append)
    try:
        first = apply_alerts(current_store(), monitor, windows(0.5, 0.0))
        # Another run of the monitor started from the state before the first one stored its own.
        fresh = evaluate(AlertRule.from_dict(RULE), None, None, 0).state
        record = AlertStateRecord("inputs", RULE["name"], fresh.to_dict(), 0)
        current_store().alerts.record_alert_step("inputs", [record], [])
        second = apply_alerts(current_store(), monitor, windows(0.5, 0.0))
    finally:
        unsubscribe()
    assert [e.status for e in first] == ["firing", "resolved"]
    assert second == [] and heard == first
    assert len(current_store().alerts.list_alert_events(monitor="inputs")) == 2


def test_only_channel_variables_can_hold_a_channels_secret(reference, monkeypatch):
    from perennia.config import secret_from_env

    monkeypatch.setenv("DATABASE_URL", "postgresql://user:pw@db/prod")
    with pytest.raises(InvalidInput, match="PERENNIA_CHANNEL_"):
        secret_from_env("DATABASE_URL")
    hook = {"type": "webhook", "url": "https://hooks.example.com/a", "secret_env": "AWS_SECRET"}
    with pytest.raises(InvalidInput, match="PERENNIA_CHANNEL_"):
        create_monitor("inputs", reference=reference, alerts=[RULE], channels=[hook])
