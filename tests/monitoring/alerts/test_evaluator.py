"""The alert state machine: pending, firing, keep-firing, resolving, cooldown, and its inputs."""

from __future__ import annotations

import json
import math

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import AlertEvent, AlertState, evaluate, replay
from tests.monitoring.alerts.conftest import make_rule

MINUTE = 60_000


def statuses(events: list[AlertEvent]) -> list[tuple[str, int, int | None]]:
    return [(e.status, e.starts_at_ms, e.ends_at_ms) for e in events]


def test_without_for_a_holding_value_fires_at_once_and_resolves_when_it_clears():
    rule = make_rule(threshold=0.5)
    fired = evaluate(rule, None, 0.7, 1_000)
    assert fired.state.status == "firing" and fired.state.since_ms == 1_000
    event = fired.event
    assert (event.status, event.value, event.threshold, event.op) == ("firing", 0.7, 0.5, ">")
    assert (event.starts_at_ms, event.ends_at_ms) == (1_000, None)
    assert event.fingerprint == rule.fingerprint == fired.state.fingerprint
    assert event.labels["alertname"] == "drift_high" and event.value_key == "drift.share_drifted"

    still = evaluate(rule, fired.state, 0.8, 2_000)
    assert still.event is None and still.state.status == "firing"

    resolved = evaluate(rule, still.state, 0.2, 3_000)
    assert (resolved.event.status, resolved.event.value) == ("resolved", 0.2)
    assert (resolved.event.starts_at_ms, resolved.event.ends_at_ms) == (1_000, 3_000)
    assert resolved.state == AlertState(
        fingerprint=rule.fingerprint, last_resolved_ms=3_000, last_time_ms=3_000
    )


def test_a_rule_with_for_waits_as_pending_until_the_condition_held_long_enough():
    rule = make_rule(for_ms=10 * MINUTE)
    state, events = replay(rule, [(0, 0.9), (5 * MINUTE, 0.9)])
    assert (state.status, state.since_ms, events) == ("pending", 0, [])
    state, events = replay(rule, [(10 * MINUTE, 0.9)], state)
    assert statuses(events) == [("firing", 10 * MINUTE, None)]


def test_a_pending_alert_that_clears_goes_back_to_inactive_and_starts_over():
    rule = make_rule(for_ms=10 * MINUTE)
    state, events = replay(
        rule, [(0, 0.9), (6 * MINUTE, 0.1), (7 * MINUTE, 0.9), (12 * MINUTE, 0.9)]
    )
    # Held at 0, cleared at 6: the 12-minute mark is only 5 minutes into the second stretch.
    assert (state.status, state.since_ms, events) == ("pending", 7 * MINUTE, [])
    _, events = replay(rule, [(17 * MINUTE, 0.9)], state)
    assert statuses(events) == [("firing", 17 * MINUTE, None)]


def test_keep_firing_holds_the_alert_until_the_condition_stayed_clear_long_enough():
    rule = make_rule(keep_firing_ms=5 * MINUTE)
    state, events = replay(
        rule,
        [
            (0, 0.9),
            (1 * MINUTE, 0.1),  # clears: the countdown starts
            (3 * MINUTE, 0.9),  # holds again: the countdown is cancelled
            (4 * MINUTE, 0.1),  # clears again: a new countdown from here
            (8 * MINUTE, 0.1),  # only 4 minutes clear
        ],
    )
    assert statuses(events) == [("firing", 0, None)]
    assert (state.status, state.cleared_ms) == ("firing", 4 * MINUTE)
    state, events = replay(rule, [(9 * MINUTE, 0.2)], state)
    assert statuses(events) == [("resolved", 0, 9 * MINUTE)]
    assert state.status == "inactive"


def test_with_a_cooldown_a_flapping_value_fires_and_resolves_once():
    rule = make_rule(cooldown_ms=30 * MINUTE)
    flapping = [(m * MINUTE, 0.9 if m % 2 == 0 else 0.1) for m in range(20)]
    state, events = replay(rule, flapping)
    assert statuses(events) == [("firing", 0, None), ("resolved", 0, MINUTE)]
    assert state.last_resolved_ms == MINUTE

    # Once the cooldown has passed, the still-holding condition fires again, once.
    state, events = replay(rule, [(31 * MINUTE, 0.9), (32 * MINUTE, 0.9)], state)
    assert statuses(events) == [("firing", 31 * MINUTE, None)]


def test_without_a_cooldown_the_same_flapping_value_pages_every_time():
    _, events = replay(make_rule(), [(m * MINUTE, 0.9 if m % 2 == 0 else 0.1) for m in range(6)])
    assert [e.status for e in events] == ["firing", "resolved"] * 3


def test_a_condition_holding_through_the_cooldown_fires_at_its_end_if_for_is_met():
    rule = make_rule(cooldown_ms=10 * MINUTE, for_ms=3 * MINUTE)
    state, _ = replay(rule, [(0, 0.9), (3 * MINUTE, 0.9), (4 * MINUTE, 0.1)])  # fire, resolve
    assert state.last_resolved_ms == 4 * MINUTE
    state, events = replay(rule, [(5 * MINUTE, 0.9), (13 * MINUTE, 0.9)], state)
    assert (state.status, events) == ("pending", [])  # for_ms met, cooldown not over
    state, events = replay(rule, [(14 * MINUTE, 0.9)], state)
    assert statuses(events) == [("firing", 14 * MINUTE, None)]


def test_a_value_that_cannot_be_computed_changes_nothing():
    rule = make_rule(for_ms=10 * MINUTE, keep_firing_ms=MINUTE)
    pending = evaluate(rule, None, 0.9, 0).state
    for missing in (None, math.nan):
        again = evaluate(rule, pending, missing, 20 * MINUTE)
        assert again.state == pending and again.event is None
    # The None did not stand in for "still holding": the stretch still started at 0 and the
    # next real value decides.
    assert evaluate(rule, pending, 0.1, 20 * MINUTE).state.status == "inactive"
    fired = evaluate(rule, pending, 0.9, 20 * MINUTE)
    assert fired.event.status == "firing"
    cleared = evaluate(rule, fired.state, 0.1, 21 * MINUTE).state
    assert evaluate(rule, cleared, None, 30 * MINUTE).state == cleared


def test_an_observation_older_than_the_last_one_is_refused():
    rule = make_rule()
    state = evaluate(rule, None, 0.1, 5_000).state
    with pytest.raises(InvalidInput, match="time_ms 4999 is earlier than the last observation"):
        evaluate(rule, state, 0.9, 4_999)
    with pytest.raises(InvalidInput, match="observations must arrive in time order"):
        evaluate(rule, state, None, 1)
    assert evaluate(rule, state, 0.9, 5_000).event.status == "firing"  # same time is fine


@pytest.mark.parametrize("time_ms", [-1, 1.5, "5", True])
def test_a_bad_time_is_refused(time_ms):
    with pytest.raises(InvalidInput, match="time_ms must be a non-negative int"):
        evaluate(make_rule(), None, 0.1, time_ms)


@pytest.mark.parametrize("value", ["0.9", True, [0.9]])
def test_a_bad_value_is_refused(value):
    with pytest.raises(InvalidInput, match="value must be a number or None"):
        evaluate(make_rule(), None, value, 0)


def test_an_infinite_value_compares_like_any_other():
    fired = evaluate(make_rule(), None, math.inf, 0)
    assert fired.event.value == math.inf
    assert AlertEvent.from_dict(json.loads(json.dumps(fired.event.to_dict()))) == fired.event


def test_a_state_of_another_alert_is_refused():
    state = evaluate(make_rule(labels={"team": "risk"}), None, 0.9, 0).state
    with pytest.raises(InvalidInput, match="its name or labels changed; start again"):
        evaluate(make_rule(labels={"team": "ops"}), state, 0.1, 1)
    with pytest.raises(InvalidInput, match="state must be an AlertState or None"):
        evaluate(make_rule(), {"status": "firing"}, 0.1, 1)


def test_an_empty_state_is_adopted_by_the_rule():
    rule = make_rule()
    assert evaluate(rule, AlertState(), 0.1, 0).state.fingerprint == rule.fingerprint


def test_stopping_and_resuming_from_the_json_state_gives_the_same_events():
    rule = make_rule(for_ms=2 * MINUTE, keep_firing_ms=2 * MINUTE, cooldown_ms=5 * MINUTE)
    series = [
        (m * MINUTE, v) for m, v in enumerate([0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9] * 3)
    ]
    _, straight = replay(rule, series)
    state, resumed = None, []
    for time_ms, value in series:
        if state is not None:
            state = AlertState.from_dict(json.loads(json.dumps(state.to_dict())))
        outcome = evaluate(rule, state, value, time_ms)
        state = outcome.state
        resumed += [outcome.event] if outcome.event else []
    assert resumed == straight and len(straight) >= 4


def test_an_inconsistent_state_is_refused():
    with pytest.raises(InvalidInput, match="since_ms must be set exactly when"):
        AlertState(status="firing")
    with pytest.raises(InvalidInput, match="cleared_ms may only be set while the alert is firing"):
        AlertState(status="pending", since_ms=1, cleared_ms=2)
    with pytest.raises(InvalidInput, match="status 'done' is unknown"):
        AlertState(status="done")
    with pytest.raises(InvalidInput, match="unknown key 'extra'"):
        AlertState.from_dict({"extra": 1})
    with pytest.raises(InvalidInput, match="last_time_ms must be an int"):
        AlertState(last_time_ms=1.5)


def test_an_event_survives_a_json_round_trip_and_checks_its_fields():
    rule = make_rule(labels={"team": "risk"}, annotations={"summary": "drifted"})
    fired = evaluate(rule, None, 0.9, 1_000)
    resolved = evaluate(rule, fired.state, 0.1, 2_000).event
    for event in (fired.event, resolved):
        assert AlertEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    with pytest.raises(InvalidInput, match="ends_at_ms must be None while firing"):
        AlertEvent.from_dict({**resolved.to_dict(), "status": "firing"})
    with pytest.raises(InvalidInput, match="status 'open' is unknown"):
        AlertEvent.from_dict({**resolved.to_dict(), "status": "open"})
    with pytest.raises(InvalidInput, match="'fingerprint' is required"):
        AlertEvent.from_dict({k: v for k, v in resolved.to_dict().items() if k != "fingerprint"})


def test_an_events_summary_reads_as_one_line():
    rule = make_rule()
    fired = evaluate(rule, None, 0.75, 1_500)
    assert fired.event.summary() == (
        "FIRING drift_high: drift.share_drifted = 0.75 (> 0.5) on monitor fraud-daily, "
        "since 1970-01-01T00:00:01.5Z"
    )
    resolved = evaluate(rule, fired.state, 0.25, 61_000).event
    assert resolved.summary().endswith(
        "(no longer > 0.5) on monitor fraud-daily, "
        "since 1970-01-01T00:00:01.5Z, until 1970-01-01T00:01:01Z"
    )
