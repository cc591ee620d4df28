"""Engines for the SQL store: URI parsing, SQLite pragmas, and read/write transactions.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
`BEGIN IMMEDIATE`: a deferred transaction that later wants to write can fail at once with
"database is locked" instead of waiting, which is what breaks multi-process writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from perennia.errors import InvalidInput

SQLITE_BUSY_TIMEOUT_MS = 60_000
_WRITE_OPTION = "perennia_write"


def normalize_uri(uri: str) -> str:
    """Return the URI with a default driver filled in (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def is_sql_uri(uri: str) -> bool:
    """Return True when `uri` names a database this store can open."""
    return uri.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:"))


def make_sql_engine(uri: str) -> Engine:
    """Return an engine for a `sqlite:///...` or `postgresql+psycopg://...` URI."""
    uri = normalize_uri(uri)
    try:
        url = make_url(uri)
    except ArgumentError:
        raise InvalidInput(
            f"tracking URI {uri!r} is not a database URL; use sqlite:///path.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(uri, url.database)
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            raise InvalidInput(
                f"PostgreSQL driver {url.get_driver_name()!r} is not supported; use postgresql+psycopg://"
            )
        return create_engine(uri, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise InvalidInput(f"unsupported database {backend!r} in {uri!r}; use sqlite or postgresql")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(uri: str, database: str | None) -> Engine:
    in_memory = not database or database == ":memory:"
    if in_memory:
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(uri, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            uri,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=4,
            max_overflow=8,
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised implicitly
        # Take transaction control away from the sqlite3 module so `begin` below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's lower() folds ASCII only; ILIKE must fold 'É' like PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:  # pragma: no cover - exercised implicitly
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Unit:
    """One write transaction that every store call of a request joins (see `joined`).

    The server wraps a write that carries an Idempotency-Key in a unit, so the write and the
    key's stored answer commit together or not at all. Opening and committing block, so the
    server calls them from a worker thread; joining is done in the request's own context.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = engine.connect()
        self.conn.execution_options(**{_WRITE_OPTION: True})
        self.transaction = self.conn.begin()

    def commit(self) -> None:
        """Commit everything the request wrote and release the connection."""
        try:
            self.transaction.commit()
        finally:
            self.conn.close()

    def rollback(self) -> None:
        """Undo everything the request wrote and release the connection."""
        try:
            self.transaction.rollback()
        finally:
            self.conn.close()


_UNIT: ContextVar[Unit | None] = ContextVar("perennia_sql_unit", default=None)


def join(unit: Unit) -> Token:
    """Make store calls in this context (and threads it starts) run inside `unit`."""
    return _UNIT.set(unit)


def leave(token: Token) -> None:
    """Stop joining the unit `join` returned `token` for."""
    _UNIT.reset(token)


def _unit_connection(engine: Engine) -> Connection | None:
    unit = _UNIT.get()
    return unit.conn if unit is not None and unit.engine is engine else None


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside a write transaction, committed on success.

    Inside a unit it is a savepoint of the unit's transaction: a failed step (a unique
    violation caught by the caller) rolls back alone, and nothing commits before the unit.
    """
    joined = _unit_connection(engine)
    if joined is not None:
        with joined.begin_nested():
            yield joined
        return
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside a read-only (deferred) transaction (a unit's, inside one)."""
    joined = _unit_connection(engine)
    if joined is not None:
        # A savepoint keeps a failed read (a bad cast on PostgreSQL) from poisoning the unit.
        with joined.begin_nested():
            yield joined
        return
    with engine.connect() as conn, conn.begin():
        yield conn
