"""Dataset registrations racing on the SQL backends (an SQLite file, PostgreSQL): whether they run
in threads of one process or in separate processes, every registration of a name gets its own
number and together they are 1..N, with no gaps and no duplicates, and so are the events."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading

from perennia.entities import DatasetVersion
from perennia.store import open_store

NAME = "raced"
PER_WORKER = 5


def _draft(worker: int, i: int) -> DatasetVersion:
    digest = hashlib.sha256(f"{worker}-{i}".encode()).hexdigest()
    return DatasetVersion(NAME, 0, digest, "file:///blobs", "table", tags={"by": str(worker)})


def _register(store, worker: int) -> list[tuple[int, str]]:
    """Register PER_WORKER versions; return (number, digest) of each."""
    created = [store.datasets.create_version(_draft(worker, i)) for i in range(PER_WORKER)]
    return [(v.version, v.digest) for v in created]


def _register_in_process(uri: str, worker: int, barrier, results) -> None:
    store = open_store(uri)
    barrier.wait()
    try:
        results.put(_register(store, worker))
    finally:
        store.close()


def _check(store, found: list[tuple[int, str]], workers: int) -> None:
    total = workers * PER_WORKER
    assert sorted(number for number, _ in found) == list(range(1, total + 1))
    stored = {v.version: v.digest for v in store.datasets.versions(NAME)}
    assert stored == dict(found)  # each number holds the draft that was told it got it
    events = store.datasets.events(NAME, limit=1000)
    assert sorted(e.version for e in events) == list(range(1, total + 1))
    assert store.datasets.resolve(NAME, "latest").version == total


def test_threads_registering_one_name_get_numbers_one_to_n(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    workers = 4
    barrier = threading.Barrier(workers)
    found: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        barrier.wait()
        try:
            found.extend(_register(store, worker))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    _check(store, found, workers)
    store.close()


def test_processes_registering_one_name_get_numbers_one_to_n(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)  # migrated before the workers start
    workers = 3
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_register_in_process, args=(sql_store_uri, w, barrier, results))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    found = [pair for _ in processes for pair in results.get(timeout=120)]
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * workers
    _check(store, found, workers)
    store.close()
