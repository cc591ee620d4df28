"""The alerts contract: each rule's alert state kept per monitor and replaced step by step; alert
events appended as an audit trail with increasing ids, never twice for one firing (a re-run of a
window records nothing new); bad records refused before anything is stored; filters and
newest-first order; and a deleted monitor taking its alerts with it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perennia.clock import now_ms
from perennia.entities import AlertEventRecord, AlertStateRecord
from perennia.errors import InvalidInput, NotFound
from perennia.monitoring.alerts.events import AlertEvent
from perennia.monitoring.alerts.fingerprint import fingerprint
from perennia.monitoring.alerts.state import AlertState
from perennia.testing.store_contract.helpers import table_count
from perennia.testing.store_contract.test_monitors import HOUR, NAME, _monitor

FP = "0123456789abcdef"
OTHER_FP = "fedcba9876543210"


def _state(rule: str = "share_drifted", monitor: str = NAME, **state) -> AlertStateRecord:
    since = state.pop("since_ms", HOUR)
    data = AlertState("firing", since, fingerprint=FP, last_time_ms=since, **state).to_dict()
    return AlertStateRecord(monitor, rule, data)


def _event(
    time_ms: int,
    status: str = "firing",
    rule: str = "share_drifted",
    monitor: str = NAME,
    fp: str = FP,
    **event,
) -> AlertEventRecord:
    body = {"rule": rule, "status": status, "value": 0.4, "labels": {"monitor": monitor}, **event}
    return AlertEventRecord(monitor, rule, status, fp, time_ms, body)


def _stored(event: AlertEventRecord, like: AlertEventRecord) -> AlertEventRecord:
    """Return `event` with the ids and times the store gave `like`."""
    return replace(event, event_id=like.event_id, recorded_ms=like.recorded_ms)


# -- states ----------------------------------------------------------------------------------


def test_a_monitor_without_alerts_has_no_states_and_no_events(store) -> None:
    store.monitors.create_monitor(_monitor())
    assert store.alerts.get_alert_states(NAME) == {}
    assert store.alerts.list_alert_events(NAME) == []
    assert store.alerts.list_alert_events() == []
    assert store.alerts.record_alert_step(NAME, [], []) == []


def test_states_read_back_by_rule_and_a_step_replaces_them(store) -> None:
    store.monitors.create_monitor(_monitor())
    drift, f1 = _state("share_drifted"), _state("f1_low", since_ms=5, last_resolved_ms=2)
    before = now_ms()
    store.alerts.record_alert_step(NAME, [drift, replace(f1, updated_ms=7)], [])
    states = store.alerts.get_alert_states(NAME)
    assert list(states) == ["f1_low", "share_drifted"]
    assert before <= states["f1_low"].updated_ms <= now_ms()  # the store's clock, not the draft's
    assert states == {r.rule: replace(r, updated_ms=states[r.rule].updated_ms) for r in (f1, drift)}
    assert AlertState.from_dict(states["f1_low"].state) == AlertState.from_dict(f1.state)
    # A step names only the rules it evaluated: the others keep their state.
    inactive = AlertStateRecord(NAME, "f1_low", AlertState(last_resolved_ms=9).to_dict())
    store.alerts.record_alert_step(NAME, [inactive], [])
    again = store.alerts.get_alert_states(NAME)
    assert again["f1_low"].state == inactive.state
    assert again["f1_low"].updated_ms >= states["f1_low"].updated_ms
    assert again["share_drifted"] == states["share_drifted"]
    assert table_count(store, "alert_states") == 2


# -- events ----------------------------------------------------------------------------------


def test_a_step_stores_states_and_events_and_returns_the_events_as_stored(store) -> None:
    store.monitors.create_monitor(_monitor())
    events = [_event(HOUR), _event(HOUR, rule="f1_low", fp=OTHER_FP)]
    before = now_ms()
    stored = store.alerts.record_alert_step(NAME, [_state()], events)
    assert [_stored(e, s) for e, s in zip(events, stored, strict=True)] == stored
    assert 0 < stored[0].event_id < stored[1].event_id
    assert before <= stored[0].recorded_ms == stored[1].recorded_ms <= now_ms()
    later = store.alerts.record_alert_step(NAME, [], [_event(2 * HOUR, "resolved")])
    assert later[0].event_id > stored[1].event_id
    assert store.alerts.list_alert_events(NAME) == [later[0], stored[1], stored[0]]


def test_a_real_alert_event_and_state_round_trip(store) -> None:
    store.monitors.create_monitor(_monitor())
    labels = {"alertname": "share_drifted", "monitor": NAME, "severity": "page"}
    alert = fingerprint(labels)
    # An infinite value travels as "+Inf" in the event's own JSON, which the store keeps as is.
    event = AlertEvent(
        rule="share_drifted",
        status="resolved",
        value=float("inf"),
        threshold=0.3,
        op=">",
        value_key="drift.share_drifted",
        starts_at_ms=HOUR,
        ends_at_ms=3 * HOUR,
        fingerprint=alert,
        labels=labels,
        annotations={"summary": "drift ✓ ünïcode"},
    )
    record = AlertEventRecord(NAME, event.rule, event.status, alert, 3 * HOUR, event.to_dict())
    state = AlertState(last_resolved_ms=3 * HOUR, fingerprint=alert, last_time_ms=3 * HOUR)
    [stored] = store.alerts.record_alert_step(
        NAME, [AlertStateRecord(NAME, event.rule, state.to_dict())], [record]
    )
    assert AlertEvent.from_dict(stored.event) == event
    [listed] = store.alerts.list_alert_events(NAME)
    assert listed == stored and AlertEvent.from_dict(listed.event) == event
    kept = store.alerts.get_alert_states(NAME)[event.rule].state
    assert AlertState.from_dict(kept) == state


def test_recording_a_step_again_never_duplicates_an_event(store) -> None:
    store.monitors.create_monitor(_monitor())
    events = [_event(HOUR), _event(HOUR, rule="f1_low", fp=OTHER_FP)]
    first = store.alerts.record_alert_step(NAME, [_state()], events)
    # The re-run of the window: the same events (their payload may even differ) come back as
    # they were first stored, ids and times included.
    rerun = [replace(events[0], event={"again": True}), events[1]]
    assert store.alerts.record_alert_step(NAME, [_state()], rerun) == first
    assert table_count(store, "alert_events") == 2
    # A step mixing an old event with new ones stores only the new ones.
    resolved = _event(2 * HOUR, "resolved")
    refired = _event(3 * HOUR)
    mixed = store.alerts.record_alert_step(NAME, [], [events[1], resolved, refired])
    assert mixed[0] == first[1]
    assert first[1].event_id < mixed[1].event_id < mixed[2].event_id
    assert [_stored(resolved, mixed[1]), _stored(refired, mixed[2])] == mixed[1:]
    assert len(store.alerts.list_alert_events(NAME)) == 4
    # What tells events apart: rule, fingerprint, status and time (not the payload).
    distinct = [
        _event(HOUR, "resolved"),
        _event(HOUR, fp=OTHER_FP),
        _event(HOUR, rule="other_rule"),
        _event(HOUR + 1),
    ]
    stored = store.alerts.record_alert_step(NAME, [], distinct)
    assert len({e.event_id for e in stored}) == 4
    assert table_count(store, "alert_events") == 8


def test_an_event_of_another_monitor_is_its_own_event(store) -> None:
    store.monitors.create_monitor(_monitor())
    store.monitors.create_monitor(_monitor("other"))
    mine = store.alerts.record_alert_step(NAME, [], [_event(HOUR)])
    theirs = store.alerts.record_alert_step("other", [], [_event(HOUR, monitor="other")])
    assert mine[0].event_id != theirs[0].event_id
    assert [e.monitor for e in store.alerts.list_alert_events()] == ["other", NAME]


# -- listing ---------------------------------------------------------------------------------


def _trail(store) -> list[AlertEventRecord]:
    """Record a small trail over two monitors; return it as stored, in recording order."""
    store.monitors.create_monitor(_monitor())
    store.monitors.create_monitor(_monitor("other"))
    steps = [
        (NAME, [_event(HOUR), _event(HOUR, rule="f1_low", fp=OTHER_FP)]),
        ("other", [_event(2 * HOUR, monitor="other")]),
        (NAME, [_event(3 * HOUR, "resolved"), _event(3 * HOUR, rule="rows_low")]),
        (NAME, [_event(5 * HOUR, "resolved", rule="f1_low", fp=OTHER_FP)]),
    ]
    trail = []
    for monitor, events in steps:
        trail += store.alerts.record_alert_step(monitor, [], events)
    return trail


def test_events_are_listed_newest_first_and_filtered(store) -> None:
    t = _trail(store)
    events = store.alerts.list_alert_events
    # Newest time first; equal times newest recorded first.
    assert events() == [t[5], t[4], t[3], t[2], t[1], t[0]]
    assert events(NAME) == [t[5], t[4], t[3], t[1], t[0]]
    assert events("other") == [t[2]]
    assert events(rule="f1_low") == [t[5], t[1]]
    assert events(NAME, rule="share_drifted", status="resolved") == [t[3]]
    assert events(status="firing") == [t[4], t[2], t[1], t[0]]
    assert events(since_ms=2 * HOUR, until_ms=3 * HOUR) == [t[4], t[3], t[2]]
    assert events(since_ms=3 * HOUR) == [t[5], t[4], t[3]]
    assert events(until_ms=HOUR) == [t[1], t[0]]
    assert events(limit=2) == [t[5], t[4]]
    assert events(NAME, rule="nothing_here") == []
    assert events(limit=10_000) == events()


def test_malformed_filters_are_refused_naming_them(store) -> None:
    store.monitors.create_monitor(_monitor())
    for kwargs, field in (
        ({"since_ms": -1}, "since_ms"),
        ({"until_ms": 2**60}, "until_ms"),
        ({"since_ms": "0"}, "since_ms"),
        ({"since_ms": 1.5}, "since_ms"),
        ({"since_ms": 5, "until_ms": 4}, "after until_ms"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**9}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": None}, "limit"),
        ({"status": "pending"}, "status"),
        ({"status": ""}, "status"),
        ({"rule": "1abc"}, "rule"),
        ({"rule": "a-b"}, "rule"),
        ({"rule": "x" * 129}, "rule"),
        ({"rule": 5}, "rule"),
        ({"monitor": "a/b"}, "monitor name"),
        ({"monitor": ".."}, "monitor name"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.alerts.list_alert_events(**kwargs)


# -- refusals --------------------------------------------------------------------------------


def _bad_states() -> list[tuple[object, str]]:
    """Return (states, message fragment) a step must refuse."""
    good = _state()
    return [
        ([replace(good, monitor="other")], "other"),
        ([replace(good, rule="")], "rule"),
        ([replace(good, rule="9lives")], "rule"),
        ([replace(good, rule="has-dash")], "rule"),
        ([replace(good, rule="x" * 129)], "rule"),
        ([replace(good, rule=None)], "rule"),
        ([replace(good, state=[1, 2])], "state"),
        ([replace(good, state=None)], "state"),
        ([replace(good, state="{}")], "state"),
        ([replace(good, state={"since_ms": float("nan")})], "state"),
        ([replace(good, state={"deep": [{"x": float("inf")}]})], "state"),
        ([replace(good, state={1: "a"})], "state"),
        ([replace(good, state={"t": (1, 2)})], "state"),
        ([replace(good, state={"big": "x" * 17_000})], "state"),
        ([good, replace(good, state={})], "twice"),
        ([{"monitor": NAME, "rule": "r", "state": {}}], "AlertStateRecord"),
        (_state(), "states"),
        ("states", "states"),
        ([good] * 1_001, "at most"),
    ]


def _bad_events() -> list[tuple[object, str]]:
    """Return (events, message fragment) a step must refuse."""
    good = _event(HOUR)
    return [
        ([replace(good, monitor="other")], "other"),
        ([replace(good, rule="a b")], "rule"),
        ([replace(good, status="pending")], "status"),
        ([replace(good, status=None)], "status"),
        ([replace(good, fingerprint="0123456789ABCDEF")], "fingerprint"),
        ([replace(good, fingerprint="0123")], "fingerprint"),
        ([replace(good, fingerprint="0123456789abcdefa")], "fingerprint"),
        ([replace(good, fingerprint="0123456789abcdeg")], "fingerprint"),
        ([replace(good, fingerprint=123)], "fingerprint"),
        ([replace(good, time_ms=-1)], "time_ms"),
        ([replace(good, time_ms=2**60)], "time_ms"),
        ([replace(good, time_ms="3600000")], "time_ms"),
        ([replace(good, time_ms=1.0)], "time_ms"),
        ([replace(good, time_ms=True)], "time_ms"),
        ([replace(good, time_ms=None)], "time_ms"),
        ([replace(good, event=["firing"])], "event"),
        ([replace(good, event=None)], "event"),
        ([replace(good, event={"value": float("nan")})], "event"),
        ([replace(good, event={"value": -float("inf")})], "event"),
        ([replace(good, event={"labels": {"x": {1, 2}}})], "event"),
        ([replace(good, event={"big": "x" * 66_000})], "event"),
        ([good, replace(good, event={"again": 1})], "twice"),
        ([_state()], "AlertEventRecord"),
        ({"events": []}, "events"),
        ([good] * 1_001, "at most"),
    ]


def test_bad_steps_are_refused_naming_the_field_and_store_nothing(store) -> None:
    store.monitors.create_monitor(_monitor())
    # Each bad part comes with a good one, so a refusal proves the whole step stored nothing.
    for states, fragment in _bad_states():
        with pytest.raises(InvalidInput, match=fragment):
            store.alerts.record_alert_step(NAME, states, [_event(HOUR)])
    for events, fragment in _bad_events():
        with pytest.raises(InvalidInput, match=fragment):
            store.alerts.record_alert_step(NAME, [_state()], events)
    assert store.alerts.get_alert_states(NAME) == {}
    assert store.alerts.list_alert_events() == []


def test_an_unknown_monitor_has_no_alerts_anywhere(store) -> None:
    store.monitors.create_monitor(_monitor())
    calls = [
        lambda: store.alerts.get_alert_states("ghost"),
        lambda: store.alerts.record_alert_step("ghost", [], []),
        lambda: store.alerts.record_alert_step(
            "ghost", [_state(monitor="ghost")], [_event(HOUR, monitor="ghost")]
        ),
        lambda: store.alerts.list_alert_events("ghost"),
    ]
    for call in calls:
        with pytest.raises(NotFound, match="no monitor named 'ghost'"):
            call()
    assert table_count(store, "alert_events") == 0


def test_names_that_are_not_monitor_names_are_refused_by_every_alert_method(store) -> None:
    for bad in ("..", "a/b", "x" * 200, "", "a%2Fb", None, 7):
        calls = [
            lambda bad=bad: store.alerts.get_alert_states(bad),
            lambda bad=bad: store.alerts.record_alert_step(bad, [], []),
        ]
        if bad is not None:  # None lists every monitor's events
            calls.append(lambda bad=bad: store.alerts.list_alert_events(bad))
        for call in calls:
            with pytest.raises(InvalidInput, match="monitor name"):
                call()


# -- deleting the monitor --------------------------------------------------------------------


def test_a_deleted_monitor_takes_its_alert_states_and_events_with_it(store) -> None:
    store.monitors.create_monitor(_monitor())
    store.monitors.create_monitor(_monitor("kept"))
    store.alerts.record_alert_step(NAME, [_state(), _state("f1_low")], [_event(HOUR)])
    kept = store.alerts.record_alert_step(
        "kept", [_state(monitor="kept")], [_event(HOUR, monitor="kept")]
    )
    store.monitors.delete_monitor(NAME)
    with pytest.raises(NotFound):
        store.alerts.get_alert_states(NAME)
    assert store.alerts.list_alert_events() == kept
    assert table_count(store, "alert_states") == 1
    assert table_count(store, "alert_events") == 1
    # A new monitor of the same name starts with no alerts, and the old firing is new again.
    store.monitors.create_monitor(_monitor())
    assert store.alerts.get_alert_states(NAME) == {}
    assert store.alerts.list_alert_events(NAME) == []
    [again] = store.alerts.record_alert_step(NAME, [], [_event(HOUR)])
    assert again.event_id > kept[0].event_id
