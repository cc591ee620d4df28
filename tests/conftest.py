"""Shared fixtures: every store test runs against SQLite and PostgreSQL; S3 tests use a moto server.

Under CI=true an unreachable PostgreSQL is an error, not a skip: the suite must prove both engines.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

PG_ADMIN_URI = os.environ.get(
    "PERENNIA_TEST_POSTGRES_URI", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Live servers in tests must not run scheduled monitors on their own: the store suite claims
# and releases monitors itself, at times it chooses. The scheduler is tested directly.
os.environ.setdefault("PERENNIA_MONITOR_SCHEDULING", "false")
os.environ.setdefault("PERENNIA_AUTOMATION_SCHEDULING", "false")
SQL_BACKENDS = ["sqlite", "postgres"]
# "rest" is the REST store against a live server on loopback, itself over a fresh SQLite file.
BACKENDS = [*SQL_BACKENDS, "rest"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")


def _database_uri(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URI).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Create a migrated template database once per worker; each test copies it."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, ImportError) as error:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URI}: {error}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run, not skip)", pytrace=False)
        pytest.skip(message)
    name = f"perennia_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    from perennia.store.sql.store import SqlStore

    SqlStore(_database_uri(name)).close()
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextlib.contextmanager
def postgres_database(template: str) -> Iterator[str]:
    """Yield the URI of a fresh, migrated PostgreSQL database copied from `template`."""
    from sqlalchemy import text

    name = f"perennia_t_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _database_uri(name)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


# Every user schema object of a database, as text: a test that changed the schema (a table, a
# column, an index, a trigger, a function...) leaves a database the pool must not hand out again.
_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
  SELECT 'c:' || table_schema || '.' || table_name || '.' || column_name || ':' || data_type
         || ':' || is_nullable || ':' || coalesce(column_default, '') AS x
    FROM information_schema.columns
   WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'i:' || schemaname || '.' || indexname || ':' || indexdef FROM pg_indexes
   WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'k:' || conrelid::regclass::text || ':' || conname || ':'
         || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 't:' || tgrelid::regclass::text || ':' || tgname FROM pg_trigger
   WHERE NOT tgisinternal
  UNION ALL SELECT 'f:' || p.oid::regprocedure::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'n:' || nspname FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL SELECT 's:' || schemaname || '.' || sequencename FROM pg_sequences
  UNION ALL SELECT 'e:' || extname FROM pg_extension
  UNION ALL SELECT 'v:' || schemaname || '.' || viewname || ':' || definition FROM pg_views
   WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  -- Grants, owners and row security live on the relations, not in their rows or columns.
  UNION ALL SELECT 'a:' || c.oid::regclass::text || ':' || c.relowner::regrole::text || ':'
         || coalesce(c.relacl::text, '') || ':' || c.relrowsecurity::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  UNION ALL SELECT 'p:' || polrelid::regclass::text || ':' || polname FROM pg_policy
  -- ALTER DATABASE ... SET: settings every later session of this database would start with.
  UNION ALL SELECT 'g:' || array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
    JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()
) objects
"""


class _PostgresPool:
    """Migrated databases copied from the template, handed to one test at a time and reused.

    Copying the template (CREATE DATABASE ... TEMPLATE) and dropping the copy cost the shared
    server about a second a test (several under load). Instead, once a test is over its database
    is put back as a fresh copy would be: its sessions are cut off (as DROP ... WITH (FORCE) did),
    every table is emptied (the suite connects as a superuser, so foreign keys are not checked
    while it is), the template's own rows (the Default experiment, the schema stamp)
    are written back and every sequence is set as in the template. A database whose schema a
    test changed, or that cannot be reset, is dropped instead and never handed out again.
    """

    def __init__(self, template: str) -> None:
        from sqlalchemy import text

        self.template = template
        self.free: list[str] = []
        self.admin = _admin_engine()
        with self._engine(template).connect() as conn:
            self.fingerprint = conn.execute(text(_SCHEMA_FINGERPRINT)).scalar_one()
            self.tables = [
                row[0]
                for row in conn.execute(
                    text(
                        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                        "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
                        "'information_schema') ORDER BY 1"
                    )
                )
            ]
            self.rows = {}
            for table in self.tables:
                result = conn.execute(text(f"SELECT * FROM {table}"))
                rows = [dict(row._mapping) for row in result]
                if rows:
                    self.rows[table] = rows
            self.sequences = [
                (row[0], row[1], row[2])
                for row in conn.execute(
                    text(
                        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                        "coalesce(last_value, start_value), last_value IS NOT NULL "
                        "FROM pg_sequences"
                    )
                )
            ]

    @staticmethod
    def _engine(name: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(_database_uri(name), poolclass=NullPool)

    def take(self) -> str:
        """Return the name of a database as fresh as a copy of the template."""
        if self.free:
            return self.free.pop()
        from sqlalchemy import text

        name = f"perennia_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def give_back(self, name: str) -> None:
        """Reset `name` to the template's state and keep it, or drop it if that fails."""
        from sqlalchemy import text

        try:
            with self.admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            engine = self._engine(name)
            try:
                with engine.begin() as conn:
                    if conn.execute(text(_SCHEMA_FINGERPRINT)).scalar_one() != self.fingerprint:
                        raise RuntimeError("the test changed the schema")
                    # DELETE with foreign keys' triggers off: TRUNCATE costs a new file per
                    # table and index (a quarter of a second for an almost empty database).
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    conn.exec_driver_sql("; ".join(f"DELETE FROM {t}" for t in self.tables))
                    for table, rows in self.rows.items():
                        columns = list(rows[0])
                        names = ", ".join(f'"{c}"' for c in columns)  # a column may be a keyword
                        conn.execute(
                            text(
                                f"INSERT INTO {table} ({names}) VALUES "
                                f"({', '.join(':' + c for c in columns)})"
                            ),
                            rows,
                        )
                    for sequence, value, called in self.sequences:
                        conn.execute(
                            text("SELECT setval(:s, :v, :c)"),
                            {"s": sequence, "v": value, "c": called},
                        )
            finally:
                engine.dispose()
        except Exception:  # noqa: BLE001 - a database that cannot be reset is simply dropped
            self.drop(name)
            return
        self.free.append(name)

    def drop(self, name: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        while self.free:
            self.drop(self.free.pop())
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres_pool(postgres_template: str) -> Iterator[_PostgresPool]:
    pool = _PostgresPool(postgres_template)
    yield pool
    pool.close()


@pytest.fixture
def postgres_uri(_postgres_pool: _PostgresPool) -> Iterator[str]:
    """Return the URI of a fresh, migrated PostgreSQL database for one test."""
    name = _postgres_pool.take()
    try:
        yield _database_uri(name)
    finally:
        _postgres_pool.give_back(name)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated SQLite database file, made once per worker for sqlite_uri to copy."""
    from perennia.store.sql.store import SqlStore

    path = tmp_path_factory.mktemp("sqlite-template") / "perennia.db"
    SqlStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_uri(tmp_path: Path, _sqlite_template: Path) -> str:
    """Return the URI of a fresh SQLite database file."""
    # A copy of a migrated file: creating the schema costs each new store a tenth of a second.
    # (tests/store/test_migrations.py opens empty databases of its own.)
    shutil.copyfile(_sqlite_template, tmp_path / "perennia.db")
    return f"sqlite:///{tmp_path / 'perennia.db'}"


@pytest.fixture(params=SQL_BACKENDS)
def sql_store_uri(request: pytest.FixtureRequest) -> str:
    """Return a fresh SQL store URI, once per SQL backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_uri")
    return request.getfixturevalue("postgres_uri")


@contextlib.contextmanager
def _serving(sqlite_uri: str, tmp_path: Path, *, auth: bool) -> Iterator[tuple[str, object]]:
    """Yield (URL, backing SqlStore) of a live `perennia server` over a fresh SQLite store."""
    from perennia.config import Settings
    from perennia.server.app import create_app
    from perennia.store import open_store
    from tests.live_server import LiveServer

    backing = open_store(sqlite_uri)
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri,
        artifacts_uri=str(tmp_path / "server-artifacts"),
        server_auth=auth,
    )
    server = LiveServer(create_app(backing, settings)).start()
    try:
        yield server.url, backing
    finally:
        # uvicorn notices `should_exit` on its next tick (every 0.1 s) and then shuts down: the
        # next test need not wait for that. The thread below joins the server, then closes the
        # store behind it, in that order as before; the session waits for all of them at its end.
        server.server.should_exit = True
        stopping = threading.Thread(
            target=lambda: (server.stop(), backing.close()), name="live-server-stop"
        )
        stopping.start()
        _STOPPING.append(stopping)


# Live servers still shutting down after their tests (see _serving).
_STOPPING: list[threading.Thread] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Wait for the live servers still shutting down."""
    for stopping in _STOPPING:
        stopping.join(timeout=30)


@pytest.fixture
def live_server(sqlite_uri: str, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """Yield (URL, backing SqlStore) of a live server on loopback, sign-in switched off."""
    with _serving(sqlite_uri, tmp_path, auth=False) as served:
        yield served


@pytest.fixture
def rest_server(sqlite_uri: str, tmp_path: Path) -> Iterator[tuple[str, object, str]]:
    """Yield (URL, backing SqlStore, admin token) of a live server that requires sign-in.

    The REST leg of the store suite runs against it as an administrator, so every store test
    also passes through authentication, role checks and the audit log.
    """
    with _serving(sqlite_uri, tmp_path, auth=True) as (url, backing):
        backing.users.create_user("suite-admin", None, is_admin=True)
        yield url, backing, backing.users.create_token("suite-admin", "store suite")[1]


@pytest.fixture(params=BACKENDS)
def store_uri(request: pytest.FixtureRequest) -> str:
    """Return a fresh store URI, once per backend (SQLite, PostgreSQL, REST)."""
    if request.param == "rest":
        return request.getfixturevalue("rest_server")[0]
    return request.getfixturevalue(
        f"{request.param}_uri" if request.param == "sqlite" else "postgres_uri"
    )


@pytest.fixture
def store(store_uri: str, request: pytest.FixtureRequest):
    """Return an open store on a fresh database, once per backend."""
    from perennia.store import open_store

    if store_uri.startswith("http"):
        _url, backing, token = request.getfixturevalue("rest_server")
        opened = open_store(store_uri, token=token)
        # Tests that inspect tables look through the server at the database behind it.
        opened.backing = backing
    else:
        opened = open_store(store_uri)
    yield opened
    opened.close()


def reset_tracking() -> None:
    from perennia.tracking import context, fluent

    while fluent.active_run() is not None:
        try:
            fluent.end_run()
        except Exception:  # noqa: BLE001 - a test may leave a broken run behind
            fluent._stack().pop()
    # A test may leave queued errors behind on purpose.
    with contextlib.suppress(Exception):
        context.close_all()
    fluent._valid_keys.clear()
    fluent._last_run = None
    fluent.set_tracking_uri(None)


@pytest.fixture
def tracking(sql_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the fluent API and Client at a fresh store (per backend) and artifact folder."""
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", sql_store_uri)
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    yield sql_store_uri
    reset_tracking()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Run moto's standalone S3 server on loopback for the session and return its URL."""
    pytest.importorskip("moto")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto server did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return a fresh bucket on the moto server, with boto3 pointed at it through the environment."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"perennia-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI, a test skipped because a library is missing fails: the dev extra installs every
    library the suite needs, so such a skip means a broken environment, not an optional feature."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and "could not import" in str(report.longrepr):
        report.outcome = "failed"


@pytest.fixture(scope="session")
def ray_session() -> Iterator[object]:
    """Start one local Ray node (one CPU) for the whole session; tests using it are marked
    `xdist_group("ray")` so they share one worker, and `slow` (the node takes ~5 s to start)."""
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()
