"""The monitor leases contract: scheduled monitors are claimed when due, oldest first, each by
exactly one caller at a time (threads racing included), leased until released by their owner or
until the lease lapses, and due again when the release says.
"""

from __future__ import annotations

import threading

import pytest

from perennia.clock import now_ms
from perennia.entities import Monitor
from perennia.errors import InvalidInput
from perennia.testing.store_contract.test_monitors import DAY, HOUR, NAME, _monitor


def _scheduled(store, name: str, next_run_ms: int, schedule_ms: int = HOUR) -> Monitor:
    return store.monitors.create_monitor(
        _monitor(name, schedule_ms=schedule_ms, next_run_ms=next_run_ms)
    )


def test_due_monitors_are_claimed_oldest_first_and_leased_to_one_owner(store) -> None:
    _scheduled(store, "late", 3_000)
    _scheduled(store, "early", 1_000)
    _scheduled(store, "future", 10_000)
    store.monitors.create_monitor(_monitor("manual"))
    claimed = store.monitors.claim_due_monitors(5_000, "replica-1", 60_000, 10)
    assert [m.name for m in claimed] == ["early", "late"]
    assert {(m.lease_owner, m.lease_until_ms) for m in claimed} == {("replica-1", 65_000)}
    assert store.monitors.get_monitor("early") == claimed[0]
    # Leased: no one else gets them, nor does the owner get them twice.
    assert store.monitors.claim_due_monitors(5_000, "replica-2", 60_000, 10) == []
    later = store.monitors.claim_due_monitors(64_999, "replica-2", 60_000, 10)
    assert [(m.name, m.lease_owner) for m in later] == [("future", "replica-2")]
    assert store.monitors.get_monitor("early").lease_owner == "replica-1"


def test_a_claim_takes_at_most_limit_monitors(store) -> None:
    for i in range(5):
        _scheduled(store, f"m{i}", 1_000 + i)
    first = store.monitors.claim_due_monitors(5_000, "r1", 60_000, 2)
    second = store.monitors.claim_due_monitors(5_000, "r2", 60_000, 2)
    third = store.monitors.claim_due_monitors(5_000, "r3", 60_000, 2)
    assert [[m.name for m in c] for c in (first, second, third)] == [
        ["m0", "m1"],
        ["m2", "m3"],
        ["m4"],
    ]


def test_a_lapsed_lease_is_taken_over_and_the_old_owner_cannot_release(store) -> None:
    _scheduled(store, NAME, 1_000)
    assert len(store.monitors.claim_due_monitors(2_000, "dead", 10_000, 1)) == 1
    assert store.monitors.claim_due_monitors(11_999, "alive", 10_000, 1) == []
    (taken,) = store.monitors.claim_due_monitors(12_000, "alive", 10_000, 1)
    assert (taken.lease_owner, taken.lease_until_ms) == ("alive", 22_000)
    assert store.monitors.release_monitor(NAME, "dead", 50_000) is False
    assert store.monitors.get_monitor(NAME).lease_owner == "alive"
    assert store.monitors.release_monitor(NAME, "alive", 50_000) is True
    released = store.monitors.get_monitor(NAME)
    assert (released.lease_owner, released.lease_until_ms, released.next_run_ms) == (
        None,
        None,
        50_000,
    )
    assert store.monitors.release_monitor(NAME, "alive", 60_000) is False  # already released
    assert store.monitors.claim_due_monitors(49_999, "alive", 10_000, 1) == []
    assert len(store.monitors.claim_due_monitors(50_000, "other", 10_000, 1)) == 1


def test_a_release_without_a_time_is_due_one_schedule_later(store) -> None:
    _scheduled(store, NAME, 1_000, schedule_ms=DAY)
    store.monitors.claim_due_monitors(2_000, "r1", 10_000, 1)
    before = now_ms()
    assert store.monitors.release_monitor(NAME, "r1") is True
    assert before + DAY <= store.monitors.get_monitor(NAME).next_run_ms <= now_ms() + DAY


def test_a_monitor_unscheduled_while_it_runs_is_not_due_after_release(store) -> None:
    _scheduled(store, NAME, 1_000)
    store.monitors.claim_due_monitors(2_000, "r1", 10_000, 1)
    store.monitors.update_monitor(NAME, schedule_ms=None)
    assert store.monitors.release_monitor(NAME, "r1", 5_000) is True
    assert store.monitors.get_monitor(NAME).next_run_ms is None
    assert store.monitors.claim_due_monitors(10**12, "r1", 10_000, 1) == []


def test_callers_racing_for_due_monitors_never_share_one(store) -> None:
    due = 12
    for i in range(due):
        _scheduled(store, f"race-{i:02d}", 1_000 + i)
    callers = 6
    barrier = threading.Barrier(callers)
    claims: dict[str, list[str]] = {}
    failures: list[BaseException] = []

    def claim(owner: str) -> None:
        barrier.wait()
        try:
            found = []
            while batch := store.monitors.claim_due_monitors(5_000, owner, 60_000, 2):
                found += [m.name for m in batch]
            claims[owner] = found
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    every = [name for names in claims.values() for name in names]
    assert sorted(every) == [f"race-{i:02d}" for i in range(due)]  # each once, none left
    for owner, names in claims.items():
        assert all(store.monitors.get_monitor(n).lease_owner == owner for n in names)


def test_malformed_claims_and_releases_are_refused(store) -> None:
    _scheduled(store, NAME, 1_000)
    for args, field in (
        ((-1, "r1", 1_000, 1), "now_ms"),
        ((2**60, "r1", 1_000, 1), "now_ms"),
        ((None, "r1", 1_000, 1), "now_ms"),
        ((5_000, "", 1_000, 1), "owner"),
        ((5_000, "x" * 300, 1_000, 1), "owner"),
        ((5_000, 7, 1_000, 1), "owner"),
        ((5_000, "a\x00b", 1_000, 1), "owner"),
        ((5_000, "r1", 0, 1), "lease_ms"),
        ((5_000, "r1", 400 * DAY, 1), "lease_ms"),
        ((5_000, "r1", 1_000, 0), "limit"),
        ((5_000, "r1", 1_000, 10**6), "limit"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.monitors.claim_due_monitors(*args)
    for args, field in (
        (("", 1_000), "owner"),
        (("r1", -1), "next_run_ms"),
        (("r1", "soon"), "next_run_ms"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.monitors.release_monitor(NAME, *args)
    assert store.monitors.get_monitor(NAME).lease_owner is None
