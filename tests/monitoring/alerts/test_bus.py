"""The in-process alert bus: subscribers receive published events, in order, and fail alone."""

from __future__ import annotations

import logging

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import AlertBus, LogChannel, evaluate
from tests.monitoring.alerts.conftest import make_event, make_rule


def test_every_subscriber_receives_each_event_until_it_unsubscribes():
    bus, first, second = AlertBus(), [], []
    stop_first = bus.subscribe(first.append)
    bus.subscribe(second.append)
    fired, resolved = make_event("firing"), make_event("resolved")
    assert bus.publish(fired) == 2
    stop_first()
    stop_first()  # a second call is harmless
    assert bus.publish(resolved) == 1
    assert first == [fired] and second == [fired, resolved] and len(bus) == 1


def test_a_failing_subscriber_is_logged_and_does_not_stop_the_others(caplog):
    bus, received = AlertBus(), []

    def broken(event):
        raise RuntimeError("retraining queue is down")

    bus.subscribe(broken)
    bus.subscribe(received.append)
    with caplog.at_level(logging.ERROR, logger="perennia.monitoring.alerts.bus"):
        assert bus.publish(make_event()) == 1
    assert len(received) == 1
    assert "retraining queue is down" in caplog.text and "FIRING drift_high" in caplog.text


def test_a_subscriber_may_unsubscribe_while_an_event_is_delivered():
    bus, calls = AlertBus(), []

    def once(event):
        calls.append(event)
        bus.unsubscribe(once)

    bus.subscribe(once)
    bus.publish(make_event())
    bus.publish(make_event())
    assert len(calls) == 1


def test_the_evaluator_the_bus_and_a_channel_work_together(caplog):
    bus, retrain = AlertBus(), []
    bus.subscribe(lambda event: retrain.append(event.rule) if event.firing else None)
    bus.subscribe(lambda event: LogChannel().send([event]))
    rule, state = make_rule(for_ms=1_000), None
    with caplog.at_level(logging.INFO, logger="perennia.monitoring.alerts.channels.log"):
        for time_ms, value in [(0, 0.9), (1_000, 0.9), (2_000, 0.9), (3_000, 0.1)]:
            outcome = evaluate(rule, state, value, time_ms)
            state = outcome.state
            if outcome.event:
                bus.publish(outcome.event)
    assert retrain == ["drift_high"]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


def test_only_callables_and_events_are_accepted():
    with pytest.raises(InvalidInput, match="callback must be callable"):
        AlertBus().subscribe("retrain")
    with pytest.raises(InvalidInput, match="event must be an AlertEvent"):
        AlertBus().publish({"status": "firing"})
