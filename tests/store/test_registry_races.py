"""Registry races between processes on the SQL backends: they test the engines' own locking
(the REST leg's races are in tests/server/test_registry_rest.py)."""

from __future__ import annotations

import multiprocessing
import threading
import time

from sqlalchemy import insert, text

from perennia.entities import Deployment, Variant
from perennia.errors import Conflict
from perennia.store import open_store


def _race_alias(uri: str, version: int, barrier, results) -> None:
    store = open_store(uri)
    barrier.wait()
    try:
        store.aliases.set_alias(
            "fraud", "champion", version, expected_version=1, username=f"w{version}"
        )
        results.put(("won", version))
    except Conflict as error:
        results.put(("conflict", str(error)))
    finally:
        store.close()


def _race_version(uri: str, barrier, results) -> None:
    store = open_store(uri)
    barrier.wait()
    numbers = [store.versions.create_model_version("fraud", "s").version for _ in range(5)]
    results.put(numbers)
    store.close()


def test_two_processes_racing_an_alias_move_one_wins_one_conflicts(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    store.registry.create_registered_model("fraud")
    for _ in range(3):
        store.versions.create_model_version("fraud", "s")
    store.aliases.set_alias("fraud", "champion", 1)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_race_alias, args=(sql_store_uri, v, barrier, results))
        for v in (2, 3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert [o[0] for o in outcomes] == ["conflict", "won"]
    assert "another change won the race" in outcomes[0][1]
    winner = outcomes[1][1]
    assert store.aliases.get_version_by_alias("fraud", "champion").version == winner
    moves = [e for e in store.registry.events("fraud") if e.action == "set_alias"]
    assert len(moves) == 2 and moves[0].after == {"alias": "champion", "version": winner}
    store.close()


def test_concurrent_registrations_get_distinct_consecutive_versions(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    store.registry.create_registered_model("fraud")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [
        context.Process(target=_race_version, args=(sql_store_uri, barrier, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    numbers = sorted(n for _ in workers for n in results.get(timeout=5))
    assert numbers == list(range(1, 16))
    store.close()


def test_a_model_delete_waits_for_a_deployment_being_created_and_is_refused(postgres_uri) -> None:
    """On PostgreSQL a deployment create holds its model row FOR SHARE, so a model delete
    running at the same moment waits, then sees the deployment and is refused."""
    from perennia.store.sql import schema as s
    from perennia.store.sql.deployments import _require_versions, _values
    from perennia.store.sql.engine import write_transaction

    store = open_store(postgres_uri)
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "runs:/x/model")
    deployment = Deployment(
        "fraud-api", "fraud", "single", (Variant("stable", 1, 100.0),), 1, alias=None
    )
    outcome: list[object] = []

    def delete() -> None:
        try:
            store.registry.delete_registered_model("fraud")
            outcome.append("deleted")
        except Conflict as error:
            outcome.append(error)

    with write_transaction(store.engine) as conn:
        _require_versions(conn, deployment)  # what create() does before inserting
        worker = threading.Thread(target=delete)
        worker.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the delete waits on one of our locks
            with store.engine.connect() as probe:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                ).scalar()
            if waiting:
                break
            time.sleep(0.05)
        conn.execute(insert(s.deployments).values(**_values(deployment)))
    worker.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert store.deployments.get("fraud-api").model_name == "fraud"
    store.close()
