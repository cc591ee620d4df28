"""Cron schedules: the SDK resolves the target and the cron before storing, and the
`AutomationScheduler` fires each due schedule once, a missed firing once (not once per missed
period), records how it went, leaves a schedule leased elsewhere alone until its lease lapses,
and runs its extra jobs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.automation import schedules
from perennia.automation.scheduler import AutomationScheduler, current_fire_ms, fire
from perennia.automation.schedules import next_fire_ms
from perennia.clock import now_ms
from perennia.entities import Schedule
from perennia.errors import InvalidInput
from perennia.store import open_store

TARGETS = "tests.automation.schedule_targets"
RECORD = f"{TARGETS}:record_firing"
MINUTE = 60_000
# A five-minute boundary (2026-12-20 02:40 UTC) the scheduler tests reckon from.
T = 1_797_734_400_000


def _firings(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


@pytest.fixture
def store(sql_store_uri: str):
    opened = open_store(sql_store_uri)
    yield opened
    opened.close()


def _stored(store, name: str, target: str, cron: str, next_run_ms: int, **params) -> Schedule:
    draft = Schedule(name, target, cron, params, next_run_ms=next_run_ms)
    return store.schedules.create_schedule(draft)


# -- next_fire_ms ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    after=st.integers(0, 4_000_000_000_000),
    cron=st.sampled_from(
        ["* * * * *", "*/5 * * * *", "0 3 * * *", "15 9 * * 1-5", "* * * * * */2", "0 0 1 * *"]
    ),
)
def test_the_next_firing_is_the_first_cron_time_strictly_after(after: int, cron: str) -> None:
    following = next_fire_ms(cron, after)
    assert following > after
    # croniter as the oracle: stepping back from it lands at or before `after`, and stepping
    # forward from there lands on it again (so no firing lies between).
    moment = datetime.fromtimestamp(following / 1000, UTC)
    previous = croniter(cron, moment).get_prev(float) * 1000
    assert previous <= after
    assert croniter(cron, datetime.fromtimestamp(previous / 1000, UTC)).get_next(float) * 1000 == (
        following
    )


# -- the SDK -----------------------------------------------------------------------------------


def test_a_schedule_is_created_with_its_next_firing_and_updated(tracking, tmp_path) -> None:
    before = now_ms()
    created = schedules.create_schedule(
        "every-5", RECORD, "*/5 * * * *", {"path": str(tmp_path / "f")}, description="d"
    )
    assert created.next_run_ms == next_fire_ms("*/5 * * * *", created.next_run_ms - 1)
    assert before < created.next_run_ms <= before + 5 * MINUTE
    assert created.created_by  # the acting user
    assert schedules.get_schedule("every-5") == created
    off = schedules.update_schedule("every-5", enabled=False)
    assert (off.enabled, off.next_run_ms) == (False, None)
    on = schedules.update_schedule("every-5", enabled=True, cron="0 3 * * *")
    assert on.enabled and datetime.fromtimestamp(on.next_run_ms / 1000, UTC).hour == 3
    assert [s.name for s in schedules.list_schedules()] == ["every-5"]
    schedules.delete_schedule("every-5")
    assert schedules.list_schedules() == []


def test_bad_schedules_are_refused_before_anything_is_stored(tracking, tmp_path) -> None:
    cases = (
        (("s", RECORD, "every day"), "cron"),
        (("s", RECORD, 5), "cron"),
        (("s", RECORD, "0 0 30 2 *"), "never fires"),
        (("s", "no_such_package.pipes:train", "* * * * *"), "no module"),
        (("s", f"{TARGETS}:missing", "* * * * *"), "no attribute"),
        (("s", f"{TARGETS}:NOT_CALLABLE", "* * * * *"), "name a Pipeline or a function"),
        (("s", str(tmp_path / "absent.py") + ":f", "* * * * *"), "no file"),
        (("s", "not an entrypoint", "* * * * *"), "target"),
        (("bad name", RECORD, "* * * * *"), "schedule name"),
    )
    for args, message in cases:
        with pytest.raises(InvalidInput, match=message):
            schedules.create_schedule(*args)
    with pytest.raises(InvalidInput, match="params"):
        schedules.create_schedule("s", RECORD, "* * * * *", ["path"])
    with pytest.raises(InvalidInput, match="params"):
        schedules.create_schedule("s", RECORD, "* * * * *", {"blob": "x" * 70_000})
    assert schedules.list_schedules() == []


# -- the scheduler -----------------------------------------------------------------------------


def test_a_due_schedule_fires_once_and_a_missed_run_once_not_per_period(store, tmp_path) -> None:
    out = tmp_path / "firings"
    _stored(store, "five", RECORD, "*/5 * * * *", T, path=str(out))
    scheduler = AutomationScheduler(store, owner="me")
    assert scheduler.run_due(now=T - 1) == []
    # 17 minutes late: the 02:40 firing runs once; 02:45, 02:50 and 02:55 are not caught up.
    (firing,) = scheduler.run_due(now=T + 17 * MINUTE)
    assert (firing.name, firing.fire_ms, firing.status, firing.error) == (
        "five",
        T,
        "FINISHED",
        None,
    )
    stored = store.schedules.get_schedule("five")
    assert (stored.next_run_ms, stored.last_run_ms, stored.last_status) == (
        T + 20 * MINUTE,
        T,
        "FINISHED",
    )
    assert stored.lease_owner is None
    assert scheduler.run_due(now=T + 17 * MINUTE) == []
    assert [f.fire_ms for f in scheduler.run_due(now=T + 20 * MINUTE)] == [T + 20 * MINUTE]
    assert [t for t, _ in _firings(out)] == [T, T + 20 * MINUTE]


def test_failures_are_recorded_and_the_schedule_fires_again_later(store, tmp_path) -> None:
    _stored(store, "broken", f"{TARGETS}:fail", "*/5 * * * *", T, message="disk full")
    _stored(store, "gone", f"{TARGETS}:vanished", "*/5 * * * *", T)
    firings = AutomationScheduler(store).run_due(now=T)
    assert {f.name: f.status for f in firings} == {"broken": "FAILED", "gone": "FAILED"}
    broken, gone = store.schedules.get_schedule("broken"), store.schedules.get_schedule("gone")
    assert broken.last_error == "RuntimeError: disk full"
    assert "no attribute 'vanished'" in gone.last_error
    assert broken.next_run_ms == gone.next_run_ms == T + 5 * MINUTE


def test_a_schedule_leased_elsewhere_waits_for_the_lease_to_lapse(store, tmp_path) -> None:
    out = tmp_path / "firings"
    _stored(store, "five", RECORD, "*/5 * * * *", T, path=str(out))
    (taken,) = store.schedules.claim_due_schedules(T, "crashed-replica", MINUTE, 10)
    scheduler = AutomationScheduler(store, owner="survivor")
    assert scheduler.run_due(now=T + MINUTE - 1) == []
    assert [f.fire_ms for f in scheduler.run_due(now=T + MINUTE)] == [T]  # taken over
    assert store.schedules.release_schedule("five", "crashed-replica", T) is False
    assert store.schedules.get_schedule("five").next_run_ms == T + 5 * MINUTE
    assert len(_firings(out)) == 1


def test_extra_jobs_run_with_the_store_and_the_owner(store) -> None:
    calls = []

    def broken(_store, _owner) -> None:
        raise RuntimeError("one bad job")

    scheduler = AutomationScheduler(
        store, jobs=[broken, lambda s, owner: calls.append((s, owner))], owner="me"
    )
    scheduler.run_jobs()
    assert calls == [(store, "me")]


def test_the_thread_fires_due_schedules_until_stopped(store, tmp_path) -> None:
    out = tmp_path / "firings"
    _stored(store, "every-second", RECORD, "* * * * * *", now_ms() - 1, path=str(out))
    scheduler = AutomationScheduler(store, interval=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while len(_firings(out)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    times = [t for t, _ in _firings(out)]
    assert len(times) >= 2 and times == sorted(set(times))
    assert not any(t.name == "perennia-automation" for t in threading.enumerate())


def test_a_pipeline_target_runs_as_a_tracking_run(tracking, tmp_path) -> None:
    from perennia.data.session import current_store
    from perennia.tracking.client import Client

    out = tmp_path / "firings"
    schedules.create_schedule("pipe", f"{TARGETS}:marker", "0 3 * * *", {"path": str(out)})
    firing = schedules.run_schedule_now("pipe")
    assert (firing.status, firing.error) == ("FINISHED", None)
    assert Client().get_run(firing.run_id).info.status == "FINISHED"
    assert len(_firings(out)) == 1
    store = current_store()
    due = store.schedules.get_schedule("pipe").next_run_ms
    (scheduled,) = AutomationScheduler(store).run_due(now=due)
    assert scheduled.status == "FINISHED" and scheduled.run_id != firing.run_id
    assert store.schedules.get_schedule("pipe").last_run_id == scheduled.run_id


def test_run_now_reports_a_failure_and_leaves_the_timing_alone(tracking) -> None:
    created = schedules.create_schedule("broken", f"{TARGETS}:fail", "0 3 * * *")
    firing = schedules.run_schedule_now("broken")
    assert (firing.status, firing.error) == ("FAILED", "RuntimeError: boom")
    assert schedules.get_schedule("broken") == created


def test_outside_a_firing_there_is_no_fire_time() -> None:
    assert current_fire_ms() is None
    fired = fire(Schedule("x", f"{TARGETS}:fail", "* * * * *"), 5)
    assert fired.fire_ms == 5 and current_fire_ms() is None
