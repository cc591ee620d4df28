"""Recorders of one alert step racing on the SQL backends (an SQLite file, PostgreSQL), each
with a store of its own, as replicas re-running one window would: every event is stored once,
and every recorder gets back the same stored events, ids included."""

from __future__ import annotations

import threading

from perennia.entities import AlertEventRecord, AlertStateRecord, Monitor
from perennia.store import open_store

WORKERS = 6
NAME = "raced"


def _step() -> tuple[list[AlertStateRecord], list[AlertEventRecord]]:
    states = [AlertStateRecord(NAME, f"rule_{i}", {"status": "firing"}) for i in range(5)]
    events = [
        AlertEventRecord(NAME, f"rule_{i}", "firing", f"{i:016x}", 1_000 + i, {"i": i})
        for i in range(20)
    ]
    return states, events


def test_recorders_racing_on_one_step_store_each_event_once(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    store.monitors.create_monitor(Monitor(NAME, "datasets:/train@1", 60_000))
    stores = [open_store(sql_store_uri) for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)
    answers: dict[int, list[AlertEventRecord]] = {}
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            answers[worker] = stores[worker].alerts.record_alert_step(NAME, *_step())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert failures == []
        first = answers[0]
        assert all(answer == first for answer in answers.values())
        listed = store.alerts.list_alert_events(NAME)
        assert sorted(listed, key=lambda e: e.event_id) == first
        assert len(store.alerts.get_alert_states(NAME)) == 5
    finally:
        for opened in (*stores, store):
            opened.close()
