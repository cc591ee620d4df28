"""A reused PostgreSQL test database starts over: ids from its sequences begin again at 1.

The pool hands a database back out after emptying it; without the sequence reset, the second
holder's first experiment would be number 2, and tests comparing ids would depend on order.
"""

from __future__ import annotations

from perennia.store import open_store
from tests.conftest import _database_uri


def _first_experiment_id(uri: str) -> str:
    store = open_store(uri)
    try:
        experiment_id = store.experiments.create("first")
        assert sorted(e.name for e in store.experiments.search().items) == ["Default", "first"]
        return experiment_id
    finally:
        store.close()


def test_a_database_handed_out_again_starts_its_sequences_over(_postgres_pool) -> None:
    name = _postgres_pool.take()
    try:
        assert _first_experiment_id(_database_uri(name)) == "1"
    finally:
        _postgres_pool.give_back(name)
    again = _postgres_pool.take()
    try:
        assert again == name  # the same database, reset, not a new copy
        assert _first_experiment_id(_database_uri(again)) == "1"
    finally:
        _postgres_pool.give_back(again)
