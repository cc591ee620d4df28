"""Replicas racing for due monitors on the SQL backends (an SQLite file, PostgreSQL): whether they
are threads with a store each or separate processes, every due monitor is claimed by exactly one
of them, and each claim is the one the database holds. Recorders of one window racing leave one
run and one point per key."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import replace

from perennia.entities import Monitor, MonitorPoint, MonitorRun
from perennia.store import open_store

DUE = 40
NOW = 10_000


def _create_due(store) -> None:
    for i in range(DUE):
        draft = Monitor(f"m-{i:03d}", "datasets:/train@1", 60_000, schedule_ms=60_000)
        store.monitors.create_monitor(replace(draft, next_run_ms=i))


def _claim_all(store, owner: str) -> list[str]:
    """Claim due monitors a few at a time until none is left; return their names."""
    found = []
    while batch := store.monitors.claim_due_monitors(NOW, owner, 600_000, 3):
        found += [m.name for m in batch]
    return found


def _claim_in_process(uri: str, owner: str, barrier, results) -> None:
    store = open_store(uri)
    barrier.wait()
    try:
        results.put((owner, _claim_all(store, owner)))
    finally:
        store.close()


def _check(store, claims: dict[str, list[str]]) -> None:
    every = [name for names in claims.values() for name in names]
    assert sorted(every) == [f"m-{i:03d}" for i in range(DUE)]  # each once, none left over
    for owner, names in claims.items():
        for name in names:
            held = store.monitors.get_monitor(name)
            assert (held.lease_owner, held.lease_until_ms) == (owner, NOW + 600_000)


def test_threads_with_a_store_each_never_claim_one_monitor_twice(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    _create_due(store)
    workers = 6
    stores = [open_store(sql_store_uri) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    claims: dict[str, list[str]] = {}
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        barrier.wait()
        try:
            claims[f"replica-{worker}"] = _claim_all(stores[worker], f"replica-{worker}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    _check(store, claims)
    for opened in (*stores, store):
        opened.close()


def test_processes_never_claim_one_monitor_twice(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)  # migrated before the workers start
    _create_due(store)
    workers = 3
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(
            target=_claim_in_process, args=(sql_store_uri, f"proc-{w}", barrier, results)
        )
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    claims = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * workers
    _check(store, claims)
    store.close()


def test_recorders_of_one_window_racing_leave_one_run_and_one_point_per_key(
    sql_store_uri: str,
) -> None:
    store = open_store(sql_store_uri)
    store.monitors.create_monitor(Monitor("raced", "datasets:/train@1", 60_000))
    workers = 6
    stores = [open_store(sql_store_uri) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def record(worker: int) -> None:
        run = MonitorRun("raced", 0, 60_000, 70_000 + worker, "ok", {"by": worker})
        keys = [f"k{i}" for i in range(50)]
        points = [MonitorPoint("raced", 0, 60_000, k, float(worker), run.computed_ms) for k in keys]
        barrier.wait()
        try:
            for _ in range(3):
                stores[worker].monitors.record_window("raced", run, points, 60_000)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    (run,) = store.monitors.list_runs("raced")
    points = store.monitors.list_points("raced")
    assert len(points) == 50
    # The window is one recorder's whole, never a mix of two.
    assert {p.value for p in points} == {float(run.summary["by"])}
    assert {p.computed_ms for p in points} == {run.computed_ms}
    for opened in (*stores, store):
        opened.close()
