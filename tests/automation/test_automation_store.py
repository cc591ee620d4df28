"""The automation store contract (perennia.testing.store_contract.test_automation) runs with the
others in tests/store/test_store_contract.py on SQLite, PostgreSQL and REST; this module holds
what goes beyond it: the retraining compare-and-set raced by separate connections on PostgreSQL,
each thread with its own store, as separate scheduler processes would be."""

from __future__ import annotations

import threading

from perennia.entities import RetrainingPolicy, Schedule
from perennia.store import open_store


def _race(uri: str, callers: int, act) -> list:
    stores = [open_store(uri) for _ in range(callers)]
    barrier = threading.Barrier(callers)
    results: list = [None] * callers

    def run(i: int) -> None:
        barrier.wait()
        results[i] = act(stores[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in stores:
        store.close()
    return results


def test_stores_racing_to_start_a_retraining_on_postgres_start_one(postgres_uri) -> None:
    setup = open_store(postgres_uri)
    for model in ("a", "b", "c"):
        setup.retraining.set_retraining_policy(RetrainingPolicy(model, "pkg.m:p", cooldown_ms=0))

    def start(store, i: int) -> list:
        return [store.retraining.start_retraining(m, {"kind": "alert"}, 1_000) for m in "abc"]

    results = _race(postgres_uri, 8, start)
    for index, model in enumerate("abc"):
        winners = [r[index] for r in results if r[index] is not None]
        assert len(winners) == 1, model
        policy = setup.retraining.get_retraining_policy(model)
        assert policy.in_flight == winners[0].id
        assert len(setup.retraining.list_retrainings(model)) == 1
    setup.close()


def test_stores_racing_to_claim_a_firing_on_postgres_claim_it_once(postgres_uri) -> None:
    setup = open_store(postgres_uri)
    for i in range(20):
        setup.schedules.create_schedule(
            Schedule(f"s{i:02d}", "pkg.m:f", "* * * * *", next_run_ms=1_000)
        )

    def claim(store, i: int) -> list[str]:
        return [s.name for s in store.schedules.claim_due_schedules(5_000, f"r{i}", 60_000, 20)]

    claims = _race(postgres_uri, 8, claim)
    every = sorted(name for names in claims for name in names)
    assert every == [f"s{i:02d}" for i in range(20)]
    setup.close()


def test_stores_racing_to_move_one_retraining_on_postgres_move_it_once(postgres_uri) -> None:
    from perennia.errors import Conflict

    setup = open_store(postgres_uri)
    setup.retraining.set_retraining_policy(RetrainingPolicy("a", "pkg.m:p", cooldown_ms=0))
    started = setup.retraining.start_retraining("a", {"kind": "alert"}, 1_000)

    def claim(store, i: int) -> str:
        try:
            store.retraining.update_retraining(
                started.id, "training", f"replica {i} trains", expected_state="triggered"
            )
        except Conflict:
            return "conflict"
        return "moved"

    assert sorted(_race(postgres_uri, 8, claim)) == ["conflict"] * 7 + ["moved"]
    events = setup.retraining.list_retraining_events(started.id)
    assert [e.state for e in events] == ["triggered", "training"]
    setup.close()
