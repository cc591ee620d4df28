"""Releasing a firing: replicas never run one fire time twice (one claim per firing), a cron
croniter rejects disables the schedule with the reason recorded, and a cron (or on/off) changed
while the target ran is what the next firing follows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from perennia.automation import schedules
from perennia.automation.scheduler import AutomationScheduler, current_fire_ms
from perennia.automation.schedules import next_fire_ms
from perennia.clock import now_ms
from perennia.entities import Schedule
from perennia.store import open_store

HERE = "tests.automation.test_schedules_release"
TARGETS = "tests.automation.schedule_targets"
RECORD = f"{TARGETS}:record_firing"
# A five-minute boundary (2026-12-20 02:40 UTC) the tests reckon from.
T = 1_797_734_400_000


def slow_record(path: str, pause: float) -> None:
    """Wait `pause` seconds, then append this firing's time to the file at `path`."""
    time.sleep(pause)
    with Path(path).open("a") as handle:
        handle.write(f"{current_fire_ms()}\n")


def change_schedule(name: str, path: str, cron: str | None = None, enabled: bool | None = None):
    """Change schedule `name` through the SDK while it fires, then record the firing."""
    schedules.update_schedule(name, cron=cron, enabled=enabled)
    with Path(path).open("a") as handle:
        handle.write(f"{current_fire_ms()}\n")


@pytest.fixture
def store(sql_store_uri: str):
    opened = open_store(sql_store_uri)
    yield opened
    opened.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_two_replicas_never_run_one_fire_time_twice(postgres_uri: str, tmp_path: Path) -> None:
    setup = open_store(postgres_uri)
    due = now_ms() - 1_000
    paths = [tmp_path / f"firings-{i}" for i in range(10)]
    for i, path in enumerate(paths):
        # Yearly: each schedule has exactly one due fire time during the test.
        params = {"path": str(path), "pause": 0.4}
        setup.schedules.create_schedule(
            Schedule(f"slow-{i}", f"{HERE}:slow_record", "0 0 1 1 *", params, next_run_ms=due)
        )
    # Ten firings of 0.4 s take longer than one 3 s lease: a replica that claimed them all at
    # once would see its later leases lapse and the other replica fire those too.
    stores = [open_store(postgres_uri) for _ in range(2)]
    replicas = [
        AutomationScheduler(s, interval=0.02, owner=f"replica-{i}", lease_ms=3_000).start()
        for i, s in enumerate(stores)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
            setup.schedules.get_schedule(f"slow-{i}").last_run_ms is None for i in range(10)
        ):
            time.sleep(0.05)
    finally:
        for replica in replicas:
            replica.stop(timeout=30)
        for opened in (*stores, setup):
            opened.close()
    assert [len(_lines(path)) for path in paths] == [1] * 10
    assert {line for path in paths for line in _lines(path)} == {str(due)}


def test_a_stored_cron_croniter_rejects_disables_the_schedule_saying_why(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "firings"
    # The store checks only the text: this row is what an older version could have written.
    draft = Schedule("legacy", RECORD, "every day at 3", {"path": str(out)}, next_run_ms=T)
    store.schedules.create_schedule(draft)
    broken = Schedule("legacy-failing", f"{TARGETS}:fail", "0 0 30 2 *", next_run_ms=T)
    store.schedules.create_schedule(broken)
    scheduler = AutomationScheduler(store, owner="me")
    firings = {f.name: f.status for f in scheduler.run_due(now=T)}
    assert firings == {"legacy": "FINISHED", "legacy-failing": "FAILED"}
    legacy = store.schedules.get_schedule("legacy")
    assert (legacy.enabled, legacy.next_run_ms, legacy.last_run_ms) == (False, None, T)
    assert (legacy.last_status, legacy.lease_owner) == ("FINISHED", None)
    assert "cron 'every day at 3' cannot fire" in legacy.last_error
    assert "the schedule is disabled" in legacy.last_error
    failing = store.schedules.get_schedule("legacy-failing")
    assert failing.last_error.startswith("RuntimeError: boom; cron '0 0 30 2 *' cannot fire")
    assert (failing.enabled, failing.next_run_ms) == (False, None)
    assert scheduler.run_due(now=T + 366 * 86_400_000) == []
    assert [line.split()[0] for line in _lines(out)] == [str(T)]


def test_a_cron_changed_while_the_target_runs_holds(tracking, tmp_path: Path) -> None:
    from perennia.data.session import current_store

    store = current_store()
    out = tmp_path / "firings"
    params = {"name": "changing", "path": str(out), "cron": "0 3 * * *"}
    store.schedules.create_schedule(
        Schedule("changing", f"{HERE}:change_schedule", "*/5 * * * *", params, next_run_ms=T)
    )
    (firing,) = AutomationScheduler(store, owner="me").run_due(now=T)
    assert (firing.status, firing.error) == ("FINISHED", None)
    stored = store.schedules.get_schedule("changing")
    # The release reckons from the new cron (03:00), not the claimed one (every 5 minutes).
    assert (stored.cron, stored.next_run_ms) == ("0 3 * * *", next_fire_ms("0 3 * * *", T))
    assert (stored.last_run_ms, stored.last_status, stored.lease_owner) == (T, "FINISHED", None)


def test_a_schedule_disabled_while_the_target_runs_stays_off(tracking, tmp_path: Path) -> None:
    from perennia.data.session import current_store

    store = current_store()
    out = tmp_path / "firings"
    params = {"name": "stopping", "path": str(out), "enabled": False}
    store.schedules.create_schedule(
        Schedule("stopping", f"{HERE}:change_schedule", "*/5 * * * *", params, next_run_ms=T)
    )
    scheduler = AutomationScheduler(store, owner="me")
    assert [f.status for f in scheduler.run_due(now=T)] == ["FINISHED"]
    stored = store.schedules.get_schedule("stopping")
    assert (stored.enabled, stored.next_run_ms, stored.last_run_ms) == (False, None, T)
    assert scheduler.run_due(now=T + 10 * 60_000) == []
    assert _lines(out) == [str(T)]
