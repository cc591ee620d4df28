"""Plain helpers for the metadata-store tests."""

from __future__ import annotations

from perennia.clock import now_ms


def sql_engine(store):
    """Return the SQL engine holding the store's data (behind the server, for a REST store)."""
    return getattr(store, "backing", store).engine


def backend(store) -> str:
    """Return 'sqlite' or 'postgresql': the database that holds the data."""
    return sql_engine(store).dialect.name


def next_millisecond() -> int:
    """Wait until the millisecond clock ticks, so the next write gets a later timestamp."""
    start = now_ms()
    while (current := now_ms()) <= start:
        pass
    return current


def table_count(store, table: str, **where: object) -> int:
    """Return how many rows of `table` match the equality conditions, read straight from SQL."""
    from sqlalchemy import func, select

    from perennia.store.sql import schema

    t = schema.metadata.tables[table]
    query = select(func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    with sql_engine(store).connect() as conn:
        return conn.execute(query).scalar_one()
