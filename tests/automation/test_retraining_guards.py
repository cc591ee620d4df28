"""The loop's guards on real stores: a flapping alert inside the cooldown starts nothing, a
performance bound fires on the newest window, and of two replicas racing on PostgreSQL exactly
one starts a retraining."""

from __future__ import annotations

import threading

import pytest

from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sql_store_uri, tmp_path, monkeypatch):
    h.use_store(sql_store_uri, tmp_path, monkeypatch)
    yield sql_store_uri
    reset_tracking()


def _monitor() -> None:
    from perennia.monitoring import create_monitor

    rule = {
        "name": "Drift",
        "monitor": h.MONITOR,
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.25,
    }
    create_monitor(h.MONITOR, reference=f"models:/{h.MODEL}/1", window="1h", alerts=[rule])


def _fire(time_ms: int) -> None:
    """Record one firing of the monitor's rule, as the monitor's runner records it."""
    from perennia.data.session import current_store
    from perennia.entities import AlertEventRecord

    event = AlertEventRecord(h.MONITOR, "Drift", "firing", "0123456789abcdef", time_ms)
    current_store().alerts.record_alert_step(h.MONITOR, [], [event])


def _check(minutes: int, owner: str = "replica-1") -> list[str]:
    from perennia.automation.retraining import check_due_policies
    from perennia.clock import now_ms
    from perennia.data.session import current_store

    return check_due_policies(current_store(), owner, now_ms=now_ms() + minutes * 61_000)


def test_a_flapping_alert_inside_the_cooldown_starts_one_retraining(env) -> None:
    from perennia.automation.retraining import get_policy, list_retrainings

    h.champion()
    _monitor()
    h.policy(pipeline=h.BROKEN, triggers=[{"kind": "alert", "monitor": h.MONITOR}], cooldown="1h")
    _fire(1_000)
    _check(0)
    (first,) = list_retrainings(h.MODEL)
    assert first.state == "failed" and first.trigger["rule"] == "Drift"
    for minute in (1, 2):  # fires again, twice, within the hour
        _fire(1_000 + minute * 60_000)
        _check(minute)
    assert [r.id for r in list_retrainings(h.MODEL)] == [first.id]
    seen = get_policy(h.MODEL).cursor[f"alert:{h.MONITOR}:*"]
    assert seen == max(e.event_id for e in _events())  # seen and dropped, not queued


def _events():
    from perennia.data.session import current_store

    return current_store().alerts.list_alert_events(monitor=h.MONITOR)


def test_performance_below_its_bound_starts_a_retraining(env) -> None:
    from perennia.automation.retraining import list_retrainings
    from perennia.clock import now_ms
    from perennia.data.session import current_store
    from perennia.entities import MonitorPoint, MonitorRun

    h.champion()
    _monitor()
    trigger = {
        "kind": "performance",
        "monitor": h.MONITOR,
        "metric": "realised.accuracy",
        "below": 0.8,
    }
    h.policy(pipeline=h.BROKEN, triggers=[trigger], cooldown=0)
    store = current_store()

    def window(end: int, value: float) -> None:
        now = now_ms()
        run = MonitorRun(h.MONITOR, end - 3_600_000, end, now, "ok")
        point = MonitorPoint(h.MONITOR, end - 3_600_000, end, "realised.accuracy", value, now)
        store.monitors.record_window(h.MONITOR, run, [point], end)

    window(3_600_000, 0.93)
    _check(0)
    assert list_retrainings(h.MODEL) == []
    window(7_200_000, 0.61)
    _check(1)
    (started,) = list_retrainings(h.MODEL)
    assert started.trigger["value"] == pytest.approx(0.61)
    assert started.trigger["reason"] == "realised.accuracy of monitor bc-inputs is 0.61, below 0.8"


@pytest.mark.parametrize("sql_store_uri", ["postgres"], indirect=True)
def test_two_replicas_racing_start_exactly_one_retraining(env) -> None:
    from perennia.automation.retraining import list_retrainings
    from perennia.data.versions import register

    h.champion()
    h.policy(pipeline=h.BROKEN, triggers=[{"kind": "new_data", "dataset": h.TRAIN}], cooldown=0)
    _check(0)
    register(h.TRAIN, h.frames(seed=1)[0])
    barrier = threading.Barrier(4)
    checked: dict[str, list[str]] = {}

    def replica(name: str) -> None:
        barrier.wait()
        checked[name] = _check(1, owner=name)

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sum(checked.values(), [])) == [h.MODEL]  # one replica held the lease
    assert len(list_retrainings(h.MODEL)) == 1
