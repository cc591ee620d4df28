"""Plain helpers for the metadata-store tests."""

from __future__ import annotations

import threading
import time

from perennia.clock import now_ms


def sql_engine(store):
    """Return the SQL engine holding the store's data (behind the server, for a REST store)."""
    return getattr(store, "backing", store).engine


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


def hold_insert_then_race(uri: str, insert_sql: str, race) -> BaseException | None:
    """Insert a conflicting row in an open transaction, start `race` in a thread, then commit.

    The racer's existence check runs before the commit (it sees nothing), so its own insert
    waits on the unique index and fails once the holder commits. Returns what it raised.
    """
    from sqlalchemy import create_engine, text

    from perennia.store.sql.engine import normalize_uri

    holder = create_engine(normalize_uri(uri))
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            race()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    with holder.connect() as conn:
        transaction = conn.begin()
        conn.execute(text(insert_sql))
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.0)  # the racer reaches its INSERT and waits on the row lock
        transaction.commit()
    thread.join(30)
    holder.dispose()
    return outcome[0] if outcome else None
