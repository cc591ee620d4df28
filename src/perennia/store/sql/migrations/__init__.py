"""Alembic migrations shipped with the package, applied under a lock when a store opens.

The fast path reads `alembic_version` directly, so opening an up-to-date store does not
import Alembic at all.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from perennia.errors import StoreUnavailable

HEAD_REVISION = "0013"
MIGRATIONS_DIR = Path(__file__).parent
# Every revision this package can upgrade from, read from the scripts so it cannot fall behind.
KNOWN_REVISIONS = tuple(
    sorted(
        path.name[:4] for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )
)
_PG_LOCK_KEY = zlib.crc32(b"perennia-migrations")


def current_revision(conn: Connection) -> str | None:
    """Return the schema revision stored in the database, or None for an empty one."""
    try:
        with conn.begin():
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError):
        return None
    return row[0] if row else None


def ensure_schema(engine: Engine) -> None:
    """Bring the database to the newest schema, migrating under a cross-process lock if needed."""
    if not _sqlite_before_wal(engine):
        with engine.connect() as conn:
            if _check(current_revision(conn)):
                return
    with _migration_lock(engine) as conn:
        if _check(current_revision(conn)):
            return
        _upgrade(conn)
        if conn.in_transaction():
            conn.commit()


def _sqlite_before_wal(engine: Engine) -> bool:
    """Return True for a SQLite file whose header does not say WAL yet (missing and new files too).

    The first connection switches such a file to WAL, and SQLite answers a concurrent switch with
    "database is locked" at once instead of waiting, so that connection must be made under the lock.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return False
    try:
        with open(Path(database).expanduser(), "rb") as handle:
            header = handle.read(20)
    except OSError:
        return True
    # Bytes 18 and 19 of the header are the write and read format versions: 2 means WAL.
    return len(header) < 20 or header[18] != 2


def _check(revision: str | None) -> bool:
    if revision == HEAD_REVISION:
        return True
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreUnavailable(
            f"the database is at schema revision {revision!r}, newer than this Perennia knows "
            f"({HEAD_REVISION!r}); upgrade the perennia package"
        )
    return False


def _upgrade(conn: Connection) -> None:
    # ensure_schema only calls this for an empty or older database; no tables means empty.
    if not _has_tables(conn):
        _create_fresh(conn)
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _has_tables(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).get_table_names())


def _create_fresh(conn: Connection) -> None:
    """Create the newest schema in an empty database directly, then stamp it.

    Running every migration from nothing costs a second of Alembic start-up on each new store;
    the tables in `schema.py` are what the migrations build (a test compares the two), so an
    empty database gets them at once and the same stamp the migrations would leave.
    """
    import time

    from sqlalchemy import insert

    from perennia.store.sql import schema

    # One transaction (autobegun, committed by ensure_schema): all of it or none of it.
    schema.metadata.create_all(conn)
    now = int(time.time() * 1000)
    conn.execute(
        insert(schema.experiments).values(
            experiment_id=0,
            name="Default",
            artifact_location=None,
            lifecycle_stage="active",
            creation_time=now,
            last_update_time=now,
        )
    )
    conn.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    conn.execute(
        text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION}
    )


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """Yield a connection while holding an exclusive, cross-process migration lock."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    elif database and database != ":memory:":
        lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate-lock")
        with open(lock_path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            yield conn
