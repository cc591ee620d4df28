"""A registry search page costs a constant number of SQL statements, whatever its size."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event

from perennia.store.sql.store import SqlStore


@pytest.fixture
def filled(sql_store_uri: str) -> Iterator[SqlStore]:
    """Return a SQL store with 24 models, each with tags, two versions (tagged) and an alias."""
    store = SqlStore(sql_store_uri)
    for i in range(24):
        name = f"model-{i:02d}"
        store.registry.create_registered_model(name, tags={"team": "risk", "i": str(i)})
        for _ in range(2):
            store.versions.create_model_version(name, "s", run_id="a" * 32, tags={"k": "v"})
        store.aliases.set_alias(name, "champion", 2)
    yield store
    store.close()


def statements(store: SqlStore, call: Callable[[], object]) -> int:
    """Return how many SQL statements `call` sent to the store's database."""
    sent = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return len(sent)


def test_a_page_of_registered_models_costs_the_same_few_statements_at_any_size(filled) -> None:
    search = filled.registry.search_registered_models
    small = statements(filled, lambda: search(max_results=2))
    large = statements(filled, lambda: search(max_results=20))
    everything = statements(filled, lambda: search(max_results=100))
    assert small == large == everything <= 6
    page = search(max_results=20)
    assert len(page.items) == 20 and page.next_page_token is not None
    first = page.items[0]
    assert (first.tags, first.aliases, first.latest_version) == (
        {"team": "risk", "i": "0"},
        {"champion": 2},
        2,
    )


def test_a_page_of_versions_costs_the_same_few_statements_at_any_size(filled) -> None:
    search = filled.versions.search_model_versions
    small = statements(filled, lambda: search(run_id="a" * 32, max_results=2))
    large = statements(filled, lambda: search(run_id="a" * 32, max_results=40))
    one_model = statements(filled, lambda: search("model-03", max_results=40))
    assert small == large == one_model <= 5
    page = search(run_id="a" * 32, max_results=40)
    assert len(page.items) == 40
    assert [(v.name, v.version, v.aliases, v.tags) for v in page.items[:2]] == [
        ("model-00", 2, ["champion"], {"k": "v"}),
        ("model-00", 1, [], {"k": "v"}),
    ]
