"""Helpers the store contract's tests share.

Row counts read the SQL tables behind a store (a SQL store's own engine, or `store.backing`
when a test suite exposes the database behind a server); a backend without one skips the few
checks that need them, and runs everything else.
"""

from __future__ import annotations

from perennia.clock import now_ms


def sql_engine(store):
    """Return the SQL engine holding the store's data (behind the server, for a REST store)."""
    engine = getattr(getattr(store, "backing", store), "engine", None)
    if engine is None:
        import pytest

        pytest.skip("this check reads the SQL tables behind the store; this backend has none")
    return engine


def backend(store) -> str:
    """Return 'sqlite' or 'postgresql': the database that holds the data."""
    return sql_engine(store).dialect.name


def artifact_entry(store, run_id: str, path: str, data: bytes = b"bytes"):
    """Return a manifest entry for `data` at `path`, its blob stored where the backend needs it.

    A SQL store keeps only the manifest; a server refuses entries whose blob it does not hold,
    so for a REST store the bytes are uploaded through the server first.
    """
    import hashlib
    import tempfile
    from pathlib import Path

    from perennia.entities import ArtifactEntry

    digest = hashlib.sha256(data).hexdigest()
    http = getattr(store, "http", None)
    if http is not None:
        from perennia.tracking.server_blobs import ServerBlobStore

        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "blob"
            source.write_bytes(data)
            ServerBlobStore(http, run_id).put_file(digest, source)
    return ArtifactEntry(path, digest, len(data))


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
