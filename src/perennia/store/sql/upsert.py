"""Dialect-aware INSERT ... ON CONFLICT, the one statement SQLite and PostgreSQL spell alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

# Building an ON CONFLICT statement costs more than running it on SQLite, and the same few
# shapes recur on every batch, so each shape is built once per dialect.
_STATEMENTS: dict[tuple, Any] = {}


def _insert_for(conn: Connection, table: Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key_columns: Sequence[str],
    update_columns: Sequence[str],
    where: Any = None,
) -> None:
    """Insert rows, overwriting `update_columns` where the key exists (only when `where` holds)."""
    if not rows:
        return
    shape = (
        conn.dialect.name,
        table.name,
        tuple(key_columns),
        tuple(update_columns),
        None if where is None else where.__code__,
    )
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _insert_for(conn, table)
        statement = statement.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={name: statement.excluded[name] for name in update_columns},
            where=where(table, statement.excluded) if where is not None else None,
        )
        _STATEMENTS[shape] = statement
    conn.execute(statement, list(rows))


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key_columns: Sequence[str]
) -> None:
    """Insert rows, silently skipping those whose key already exists."""
    if not rows:
        return
    shape = (conn.dialect.name, table.name, tuple(key_columns), "ignore")
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _insert_for(conn, table).on_conflict_do_nothing(
            index_elements=list(key_columns)
        )
        _STATEMENTS[shape] = statement
    conn.execute(statement, list(rows))
