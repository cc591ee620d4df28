"""Where a study lives: Optuna's memory, an RDB URL, or "perennia" (the tracking store's database).

Optuna and Perennia both stamp their schema in a table called `alembic_version`, so they cannot
share one PostgreSQL schema: in the tracking store's database (or any PostgreSQL database that
holds Perennia's tables, however its host is spelt) Optuna's tables go to a schema of their own
(`optuna`), and next to a SQLite tracking file they go to a sibling file. Table creation
runs under a PostgreSQL advisory lock, so workers starting together do not race to create them.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput, StoreUnavailable

OPTUNA_SCHEMA = "optuna"
SQLITE_ADVICE = (
    'Optuna\'s documentation: "We would never recommend SQLite3 for parallel optimization." '
    'Use PostgreSQL (storage="postgresql+psycopg://...") or n_jobs=1'
)
# Perennia's first table and the Alembic stamp both Perennia and Optuna keep (a database with
# both is not Optuna's: its tables have no `experiments`).
PERENNIA_TABLES = ("experiments", "alembic_version")
_LOCK_KEY = zlib.crc32(b"perennia-optuna-storage")


def resolve_storage(storage: Any, tracking_uri: str, n_jobs: int) -> Any:
    """Return the Optuna storage to use (None for in-memory), refusing SQLite with several threads."""
    from optuna.storages import BaseStorage, RDBStorage

    if storage is None:
        return None
    if isinstance(storage, RDBStorage):
        if n_jobs != 1 and storage.engine.name == "sqlite":
            raise InvalidInput(f"storage is SQLite and n_jobs={n_jobs}. {SQLITE_ADVICE}")
        return storage
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str) or not storage:
        raise InvalidInput(
            f"storage must be None, 'perennia', a database URL or an optuna storage, got {storage!r:.60}"
        )
    url = _tracking_database(tracking_uri) if storage == "perennia" else storage
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if n_jobs != 1:
            raise InvalidInput(
                f"storage {storage!r} is SQLite and n_jobs={n_jobs}. {SQLITE_ADVICE}"
            )
        if storage == "perennia" or _same_database(parsed, tracking_uri):
            url = _sibling_sqlite(parsed)
        return _open(url, {})
    if backend == "postgresql":
        url = _with_default_driver(url)
        # Its own schema also whenever the database turns out to hold Perennia's tables: host
        # spellings differ ("localhost", "127.0.0.1", a DNS name) for one database.
        shared = storage == "perennia" or _same_database(parsed, tracking_uri)
        return _open_postgres(url, always_own_schema=shared)
    return _open(url, {})


def _tracking_database(tracking_uri: str) -> str:
    """Return the tracking store's database URL, or raise when it is not one Optuna can share."""
    if not tracking_uri.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
        raise InvalidInput(
            f"storage='perennia' needs a database tracking URI, but tracking goes to {tracking_uri!r}; "
            "pass the database URL as storage instead"
        )
    if tracking_uri.startswith("sqlite") and _parse(tracking_uri).database in (
        None,
        "",
        ":memory:",
    ):
        raise InvalidInput(
            "storage='perennia' cannot share an in-memory SQLite tracking store; use a file or PostgreSQL"
        )
    return tracking_uri


def _parse(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(_with_default_driver(url))
    except ArgumentError:
        raise InvalidInput(
            f"storage {url!r:.80} is not a database URL; use 'perennia', "
            "'postgresql+psycopg://user@host/db' or 'sqlite:///study.db'"
        ) from None


def _with_default_driver(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _same_database(parsed: Any, tracking_uri: str) -> bool:
    """Return True when `parsed` names the tracking store's own database."""
    if not tracking_uri.startswith(("sqlite:", "postgres")):
        return False
    tracking = _parse(tracking_uri)
    if tracking.get_backend_name() != parsed.get_backend_name():
        return False
    if parsed.get_backend_name() == "sqlite":
        return (
            bool(parsed.database)
            and bool(tracking.database)
            and (Path(parsed.database).expanduser().resolve())
            == Path(tracking.database).expanduser().resolve()
        )
    return (parsed.host, parsed.port or 5432, parsed.database) == (
        tracking.host,
        tracking.port or 5432,
        tracking.database,
    )


def _sibling_sqlite(parsed: Any) -> str:
    """Return the URL of `<tracking file stem>.optuna.db` next to the tracking SQLite file."""
    path = Path(parsed.database).expanduser()
    return f"sqlite:///{path.with_name(path.stem + '.optuna.db')}"


def _open(url: str, engine_kwargs: dict[str, Any]) -> Any:
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return RDBStorage(url, engine_kwargs=engine_kwargs or None)
    except ImportError as error:
        raise InvalidInput(f"storage {url!r:.80} needs a database driver: {error}") from None
    except SQLAlchemyError as error:
        raise StoreUnavailable(
            f"could not open the Optuna storage {_hidden(url)}: {str(error).splitlines()[0]}"
        ) from None


def _open_postgres(url: str, *, always_own_schema: bool) -> Any:
    """Return an RDBStorage on PostgreSQL, made under a lock; its tables go to the `optuna`
    schema when `always_own_schema` or when the database holds Perennia's tables."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
            try:
                if not (always_own_schema or _holds_perennia(conn)):
                    return _open(url, {})
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
                conn.commit()
                # search_path: Optuna's unqualified table names resolve to its own schema.
                return _open(url, {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}})
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
    except SQLAlchemyError as error:
        raise StoreUnavailable(
            f"could not prepare the Optuna storage in {_hidden(url)}: {str(error).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()


def _holds_perennia(conn: Any) -> bool:
    """Return True when the schema Optuna would use holds Perennia's tables (and its
    `alembic_version`, which Optuna's own would collide with)."""
    from sqlalchemy import text

    found = conn.execute(
        text("SELECT to_regclass(:a) IS NOT NULL AND to_regclass(:b) IS NOT NULL"),
        {"a": PERENNIA_TABLES[0], "b": PERENNIA_TABLES[1]},
    ).scalar()
    conn.commit()
    return bool(found)


def _hidden(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
