"""The automation contract: schedules and retraining policies are stored, claimed when due by
exactly one caller at a time (threads racing included) and released only by their owner; a
retraining starts only through the policy's compare-and-set (one in flight per model, a cooldown
between triggers), and every move of a retraining records its event, a terminal move freeing the
policy and ending the retraining for good.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from perennia.entities import RetrainingPolicy, Schedule
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound

HOUR = 3_600_000
MODEL = "fraud-model"


def _schedule(name: str = "nightly", **fields: Any) -> Schedule:
    values = {"target": "my_project.pipelines:training", "cron": "0 3 * * *"} | fields
    return Schedule(name, **values)


def _policy(model: str = MODEL, **fields: Any) -> RetrainingPolicy:
    values = {
        "pipeline": "my_project.pipelines:training",
        "triggers": ({"kind": "alert", "monitor": "fraud-drift", "rule": None},),
        "config": {"alias": "champion", "gates": ["roc_auc >= baseline - 0.005"]},
        "cooldown_ms": HOUR,
    } | fields
    return RetrainingPolicy(model, **values)


def _race(callers: int, act: Callable[[int], Any]) -> list[Any]:
    """Return what `act(i)` returned in each of `callers` threads started together."""
    barrier = threading.Barrier(callers)
    results: list[Any] = [None] * callers
    failures: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = act(i)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    return results


# -- schedules ---------------------------------------------------------------------------------


def test_a_schedule_is_stored_listed_updated_and_deleted(store) -> None:
    created = store.schedules.create_schedule(
        _schedule(params={"rows": 10, "tags": ["a"]}, next_run_ms=5_000, description="d")
    )
    assert (created.params, created.next_run_ms, created.description) == (
        {"rows": 10, "tags": ["a"]},
        5_000,
        "d",
    )
    assert created.created_ms > 0 and created.lease_owner is None and created.last_run_ms is None
    assert store.schedules.get_schedule("nightly") == created
    with pytest.raises(AlreadyExists, match="nightly"):
        store.schedules.create_schedule(_schedule())
    store.schedules.create_schedule(_schedule("b-first"))
    page = store.schedules.list_schedules(max_results=1)
    assert [s.name for s in page.items] == ["b-first"] and page.next_page_token
    rest = store.schedules.list_schedules(page_token=page.next_page_token)
    assert [s.name for s in rest.items] == ["nightly"] and rest.next_page_token is None
    changed = store.schedules.update_schedule(
        "nightly", cron="*/5 * * * *", enabled=False, next_run_ms=None, params={}
    )
    assert (changed.cron, changed.enabled, changed.next_run_ms, changed.params) == (
        "*/5 * * * *",
        False,
        None,
        {},
    )
    assert store.schedules.get_schedule("nightly") == changed
    assert store.schedules.update_schedule("nightly") == changed  # nothing to change
    store.schedules.delete_schedule("nightly")
    with pytest.raises(NotFound, match="nightly"):
        store.schedules.get_schedule("nightly")
    with pytest.raises(NotFound):
        store.schedules.delete_schedule("nightly")
    with pytest.raises(NotFound):
        store.schedules.update_schedule("nightly", enabled=True)


def test_due_schedules_are_claimed_once_and_released_with_their_outcome(store) -> None:
    store.schedules.create_schedule(_schedule("late", next_run_ms=3_000))
    store.schedules.create_schedule(_schedule("early", next_run_ms=1_000))
    store.schedules.create_schedule(_schedule("future", next_run_ms=10_000))
    store.schedules.create_schedule(_schedule("off", next_run_ms=1_000, enabled=False))
    store.schedules.create_schedule(_schedule("never"))
    claimed = store.schedules.claim_due_schedules(5_000, "replica-1", 60_000, 10)
    assert [s.name for s in claimed] == ["early", "late"]
    assert {(s.lease_owner, s.lease_until_ms) for s in claimed} == {("replica-1", 65_000)}
    assert store.schedules.claim_due_schedules(5_000, "replica-2", 60_000, 10) == []
    assert store.schedules.release_schedule("early", "replica-2", 9_000) is False  # not the owner
    assert store.schedules.get_schedule("early").lease_owner == "replica-1"
    assert store.schedules.release_schedule(
        "early", "replica-1", 86_401_000, ran_ms=1_000, status="FAILED", error="boom", run_id="r9"
    )
    done = store.schedules.get_schedule("early")
    assert (done.lease_owner, done.next_run_ms, done.last_run_ms) == (None, 86_401_000, 1_000)
    assert (done.last_status, done.last_error, done.last_run_id) == ("FAILED", "boom", "r9")
    assert store.schedules.release_schedule("early", "replica-1", 5) is False  # released already
    assert (
        store.schedules.release_schedule("late", "replica-1", 90_000) is True
    )  # no outcome: kept as it was
    assert store.schedules.get_schedule("late").last_status is None


def test_a_lapsed_schedule_lease_is_taken_over(store) -> None:
    store.schedules.create_schedule(_schedule(next_run_ms=1_000))
    assert len(store.schedules.claim_due_schedules(2_000, "dead", 10_000, 1)) == 1
    assert store.schedules.claim_due_schedules(11_999, "alive", 10_000, 1) == []
    (taken,) = store.schedules.claim_due_schedules(12_000, "alive", 10_000, 1)
    assert (taken.lease_owner, taken.lease_until_ms) == ("alive", 22_000)
    assert store.schedules.release_schedule("nightly", "dead", 50_000) is False
    assert store.schedules.release_schedule("nightly", "alive", 50_000) is True


def test_callers_racing_for_due_schedules_never_share_one(store) -> None:
    for i in range(10):
        store.schedules.create_schedule(_schedule(f"race-{i:02d}", next_run_ms=1_000 + i))

    def claim(i: int) -> list[str]:
        found = []
        while batch := store.schedules.claim_due_schedules(5_000, f"r{i}", 60_000, 2):
            found += [s.name for s in batch]
        return found

    claims = _race(5, claim)
    every = sorted(name for names in claims for name in names)
    assert every == [f"race-{i:02d}" for i in range(10)]


def test_bad_schedules_are_refused_before_anything_is_stored(store) -> None:
    for schedule, field in (
        (_schedule("no spaces"), "schedule name"),
        (_schedule("../x"), "schedule name"),
        (_schedule(target="no_colon"), "target"),
        (_schedule(target="a b:c"), "target"),
        (_schedule(cron=5), "cron"),
        (_schedule(cron=""), "cron"),
        (_schedule(cron="0 3 * * *\n"), "cron"),
        (_schedule(params={"big": "x" * 70_000}), "params"),
        (_schedule(params=[1]), "params"),
        (_schedule(params={"nan": float("nan")}), "params"),
        (_schedule(enabled="yes"), "enabled"),
        (_schedule(next_run_ms=-1), "next_run_ms"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.schedules.create_schedule(schedule)
    assert store.schedules.list_schedules().items == []
    store.schedules.create_schedule(_schedule(next_run_ms=1_000))
    for changes, field in (
        ({"cron": None}, "cron"),
        ({"enabled": 1}, "enabled"),
        ({"params": {"x": "y" * 70_000}}, "params"),
        ({"next_run_ms": "soon"}, "next_run_ms"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.schedules.update_schedule("nightly", **changes)
    for args, field in (
        ((-1, "r1"), "now_ms"),
        ((5_000, ""), "owner"),
        ((5_000, "r1", 0), "lease_ms"),
        ((5_000, "r1", 1_000, 0), "limit"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.schedules.claim_due_schedules(*args)
    with pytest.raises(InvalidInput, match="status"):
        store.schedules.release_schedule("nightly", "r1", 5, ran_ms=1, status="DONE")
    with pytest.raises(InvalidInput, match="ran_ms"):
        store.schedules.release_schedule("nightly", "r1", 5, status="FINISHED")
    assert store.schedules.get_schedule("nightly").cron == "0 3 * * *"


# -- retraining policies -----------------------------------------------------------------------


def test_a_policy_is_set_replaced_keeping_the_store_fields_and_deleted(store) -> None:
    first = store.retraining.set_retraining_policy(_policy())
    assert first.triggers == ({"kind": "alert", "monitor": "fraud-drift", "rule": None},)
    assert first.next_check_ms is not None and first.in_flight is None
    assert store.retraining.get_retraining_policy(MODEL) == first
    started = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)
    (claimed,) = store.retraining.claim_due_policies(first.next_check_ms, "r1", 60_000, 5)
    assert store.retraining.release_policy(MODEL, "r1", 2_000, {"seen": 3}) is True
    replaced = store.retraining.set_retraining_policy(
        _policy(cooldown_ms=0, triggers=(), enabled=False)
    )
    assert (replaced.cooldown_ms, replaced.triggers, replaced.enabled) == (0, (), False)
    assert (replaced.in_flight, replaced.last_triggered_ms, replaced.cursor) == (
        started.id,
        1_000,
        {"seen": 3},
    )
    assert replaced.created_ms == first.created_ms
    assert store.retraining.get_retraining_policy(MODEL) == replaced
    store.retraining.set_retraining_policy(_policy("another"))
    assert [p.model_name for p in store.retraining.list_retraining_policies().items] == [
        "another",
        MODEL,
    ]
    store.retraining.delete_retraining_policy(MODEL)
    with pytest.raises(NotFound, match=MODEL):
        store.retraining.get_retraining_policy(MODEL)
    assert store.retraining.get_retraining(started.id).model_name == MODEL  # history stays


def test_due_policies_are_claimed_by_one_and_released_by_their_owner(store) -> None:
    policy = store.retraining.set_retraining_policy(_policy())
    store.retraining.set_retraining_policy(_policy("disabled", enabled=False))
    now = policy.next_check_ms
    (claimed,) = store.retraining.claim_due_policies(now, "r1", 10_000, 10)
    assert (claimed.model_name, claimed.lease_owner, claimed.lease_until_ms) == (
        MODEL,
        "r1",
        now + 10_000,
    )
    assert store.retraining.claim_due_policies(now, "r2", 10_000, 10) == []
    assert store.retraining.release_policy(MODEL, "r2", now) is False
    (taken,) = store.retraining.claim_due_policies(now + 10_000, "r2", 10_000, 10)  # lapsed
    assert taken.lease_owner == "r2"
    assert store.retraining.release_policy(MODEL, "r1", now) is False
    assert store.retraining.release_policy(MODEL, "r2", now + 60_000) is True
    released = store.retraining.get_retraining_policy(MODEL)
    assert (released.lease_owner, released.next_check_ms, released.cursor) == (
        None,
        now + 60_000,
        {},
    )
    assert store.retraining.claim_due_policies(now + 59_999, "r3", 10_000, 10) == []


def test_bad_policies_are_refused_before_anything_is_stored(store) -> None:
    for policy, field in (
        (_policy(" spaced "), "model name"),
        (_policy(pipeline="nope"), "pipeline"),
        (_policy(triggers=({"monitor": "m"},)), "kind"),
        (_policy(triggers="alert"), "triggers"),
        (_policy(triggers=({"kind": "alert"},) * 101), "triggers"),
        (_policy(config={"x": "y" * 70_000}), "config"),
        (_policy(cooldown_ms=-1), "cooldown_ms"),
        (_policy(cooldown_ms=1.5), "cooldown_ms"),
        (_policy(enabled=None), "enabled"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.retraining.set_retraining_policy(policy)
    assert store.retraining.list_retraining_policies().items == []
    with pytest.raises(NotFound):
        store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)


# -- retrainings -------------------------------------------------------------------------------


def test_one_retraining_in_flight_and_a_cooldown_between_triggers(store) -> None:
    store.retraining.set_retraining_policy(_policy(cooldown_ms=HOUR))
    first = store.retraining.start_retraining(MODEL, {"kind": "alert", "reason": "drift"}, 1_000)
    assert (first.state, first.model_name, first.started_ms) == ("triggered", MODEL, 1_000)
    assert first.trigger == {"kind": "alert", "reason": "drift"} and first.active
    assert store.retraining.get_retraining_policy(MODEL).in_flight == first.id
    assert (
        store.retraining.start_retraining(MODEL, {"kind": "alert"}, 2 * HOUR) is None
    )  # in flight
    assert (
        store.retraining.start_retraining(MODEL, {"kind": "manual"}, 2 * HOUR, force=True) is None
    )
    store.retraining.update_retraining(
        first.id, "failed", "pipeline failed", reason="step train raised"
    )
    assert store.retraining.get_retraining_policy(MODEL).in_flight is None
    assert (
        store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000 + HOUR - 1) is None
    )  # cooldown
    forced = store.retraining.start_retraining(
        MODEL, {"kind": "manual"}, 1_000 + HOUR - 1, force=True
    )
    assert forced is not None and forced.id != first.id
    store.retraining.update_retraining(forced.id, "cancelled", "by hand")
    second = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000 + 3 * HOUR)
    assert second is not None
    listed = store.retraining.list_retrainings(MODEL)
    assert [r.id for r in listed] == [second.id, forced.id, first.id]
    assert [r.id for r in store.retraining.list_retrainings(limit=1)] == [second.id]


def test_a_retraining_moves_with_one_event_per_step_and_ends_for_good(store) -> None:
    store.retraining.set_retraining_policy(_policy())
    started = store.retraining.start_retraining(
        MODEL, {"kind": "schedule", "reason": "nightly"}, 1_000
    )
    training = store.retraining.update_retraining(
        started.id, "training", "pipeline started", pipeline_run_id="abc"
    )
    assert (training.state, training.pipeline_run_id) == ("training", "abc")
    evaluating = store.retraining.update_retraining(
        started.id, "evaluating", "challenger registered", challenger_version=4, detail={"a": 1}
    )
    assert (evaluating.challenger_version, evaluating.detail) == (4, {"a": 1})
    done = store.retraining.update_retraining(
        started.id,
        "promoted",
        "canary passed",
        champion_version=3,
        deployment="fraud-api",
        detail={"canary": {"ok": True}},
    )
    assert (done.state, done.finished_ms is not None, done.active) == ("promoted", True, False)
    assert done.detail == {"a": 1, "canary": {"ok": True}}
    assert (done.pipeline_run_id, done.challenger_version, done.champion_version) == ("abc", 4, 3)
    assert store.retraining.get_retraining(started.id) == done
    events = store.retraining.list_retraining_events(started.id)
    assert [(e.state, e.message) for e in events] == [
        ("triggered", "triggered: nightly"),
        ("training", "pipeline started"),
        ("evaluating", "challenger registered"),
        ("promoted", "canary passed"),
    ]
    assert events[3].detail == {"canary": {"ok": True}}
    assert [e.time_ms for e in events] == sorted(e.time_ms for e in events)
    with pytest.raises(Conflict, match="promoted"):
        store.retraining.update_retraining(started.id, "training", "again")
    assert (
        len(store.retraining.list_retraining_events(started.id)) == 4
    )  # the refused move left no event
    with pytest.raises(NotFound):
        store.retraining.get_retraining(started.id + 1000)
    with pytest.raises(NotFound):
        store.retraining.list_retraining_events(started.id + 1000)


def test_bad_retraining_moves_are_refused_and_change_nothing(store) -> None:
    store.retraining.set_retraining_policy(_policy())
    started = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)
    for args, kwargs, field in (
        (("done", "x"), {}, "state"),
        (("training", ""), {}, "message"),
        (("training", "x"), {"challenger_version": 0}, "challenger_version"),
        (("training", "x"), {"detail": ["no"]}, "detail"),
        (("training", "x"), {"approval_request_id": "7"}, "approval_request_id"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.retraining.update_retraining(started.id, *args, **kwargs)
    with pytest.raises(InvalidInput, match="retraining_id"):
        store.retraining.update_retraining(0, "training", "x")
    for trigger, now, field in (({"reason": "x"}, 1, "kind"), ({"kind": "a"}, -5, "now_ms")):
        with pytest.raises(InvalidInput, match=field):
            store.retraining.start_retraining(MODEL, trigger, now)
    assert store.retraining.get_retraining(started.id) == started
    assert len(store.retraining.list_retraining_events(started.id)) == 1


def test_triggers_racing_start_exactly_one_retraining(store) -> None:
    store.retraining.set_retraining_policy(_policy(cooldown_ms=0))
    started = _race(
        6, lambda i: store.retraining.start_retraining(MODEL, {"kind": "alert", "n": i}, 1_000)
    )
    winners = [r for r in started if r is not None]
    assert len(winners) == 1
    assert store.retraining.get_retraining_policy(MODEL).in_flight == winners[0].id
    assert len(store.retraining.list_retrainings(MODEL)) == 1


def test_racing_terminal_moves_end_a_retraining_once(store) -> None:
    store.retraining.set_retraining_policy(_policy(cooldown_ms=0))
    started = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)

    def end(i: int) -> str:
        try:
            store.retraining.update_retraining(started.id, "cancelled", f"by caller {i}")
        except Conflict:
            return "conflict"
        return "ended"

    assert sorted(_race(4, end)) == ["conflict"] * 3 + ["ended"]
    assert [e.state for e in store.retraining.list_retraining_events(started.id)] == [
        "triggered",
        "cancelled",
    ]
    assert store.retraining.get_retraining_policy(MODEL).in_flight is None


def test_a_move_with_an_expected_state_happens_only_from_that_state(store) -> None:
    store.retraining.set_retraining_policy(_policy())
    started = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)
    training = store.retraining.update_retraining(
        started.id, "training", "pipeline started", expected_state="triggered"
    )
    assert training.state == "training"
    with pytest.raises(Conflict, match="is training now, not triggered: another process"):
        store.retraining.update_retraining(
            started.id, "evaluating", "late", challenger_version=2, expected_state="triggered"
        )
    with pytest.raises(InvalidInput, match="expected_state"):
        store.retraining.update_retraining(started.id, "evaluating", "x", expected_state="done")
    assert store.retraining.get_retraining(started.id) == training  # the refused moves left no mark
    assert len(store.retraining.list_retraining_events(started.id)) == 2
    ended = store.retraining.update_retraining(
        started.id, "failed", "x", reason="y", expected_state="training"
    )
    with pytest.raises(Conflict):
        store.retraining.update_retraining(started.id, "failed", "x", expected_state="failed")
    assert store.retraining.get_retraining(started.id) == ended


def test_callers_racing_from_one_state_move_the_retraining_once(store) -> None:
    store.retraining.set_retraining_policy(_policy(cooldown_ms=0))
    started = store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000)

    def claim(i: int) -> str:
        try:
            store.retraining.update_retraining(
                started.id, "training", f"caller {i} trains", expected_state="triggered"
            )
        except Conflict:
            return "conflict"
        return "moved"

    assert sorted(_race(4, claim)) == ["conflict"] * 3 + ["moved"]
    events = store.retraining.list_retraining_events(started.id)
    assert [e.state for e in events] == ["triggered", "training"]


def test_a_disabled_policy_starts_no_retraining_unless_forced(store) -> None:
    store.retraining.set_retraining_policy(_policy(cooldown_ms=0, enabled=False))
    assert store.retraining.start_retraining(MODEL, {"kind": "alert"}, 1_000) is None
    assert store.retraining.get_retraining_policy(MODEL).last_triggered_ms is None
    forced = store.retraining.start_retraining(MODEL, {"kind": "manual"}, 2_000, force=True)
    assert forced is not None and forced.state == "triggered"
    assert store.retraining.get_retraining_policy(MODEL).in_flight == forced.id
