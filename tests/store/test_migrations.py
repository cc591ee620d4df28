"""Schema migrations: opening a store migrates it once, the models match the migrations, and
concurrent first opens by several processes create the schema exactly once.

Every test here starts from an empty database (no template), so the migrations themselves run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from perennia.errors import StoreUnavailable
from perennia.store import open_store
from perennia.store.sql import schema
from perennia.store.sql.migrations import HEAD_REVISION, KNOWN_REVISIONS, MIGRATIONS_DIR
from perennia.store.sql.store import SqlStore
from perennia.testing.store_contract.helpers import sql_engine
from tests.conftest import PG_ADMIN_URI

REPO = Path(__file__).resolve().parents[2]


def _script_head() -> str:
    """Return the head revision according to the migration scripts themselves."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def _versions(uri: str) -> list[str]:
    """Return every row of `alembic_version`."""
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def _experiment_rows(uri: str) -> list[tuple]:
    """Return (id, name) of every experiment, read straight from SQL."""
    engine = create_engine(uri)
    e = schema.experiments
    try:
        with engine.connect() as conn:
            query = select(e.c.experiment_id, e.c.name).order_by(e.c.experiment_id)
            return [tuple(row) for row in conn.execute(query)]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return the URI of a database with no tables at all, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'perennia.db'}"
        return
    request.getfixturevalue("postgres_template")  # skips (or fails under CI) without PostgreSQL
    from sqlalchemy.engine import make_url

    name = f"perennia_m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    yield make_url(PG_ADMIN_URI).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_package_head_revision_is_the_scripts_head() -> None:
    assert _script_head() == HEAD_REVISION


def test_opening_an_empty_database_creates_the_schema_and_stamps_the_head(empty_uri) -> None:
    store = open_store(empty_uri)
    try:
        tables = set(inspect(sql_engine(store)).get_table_names())
    finally:
        store.close()
    assert set(schema.metadata.tables) | {"alembic_version"} == tables
    assert _versions(empty_uri) == [_script_head()]
    assert _experiment_rows(empty_uri) == [(0, "Default")]


def test_models_match_what_the_migrations_create(store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with sql_engine(store).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, schema.metadata)
    assert differences == []


def test_opening_a_migrated_store_again_changes_nothing(empty_uri) -> None:
    first = SqlStore(empty_uri)
    experiment_id = first.experiments.create("kept")
    first.close()
    before = _experiment_rows(empty_uri)
    for _ in range(2):
        SqlStore(empty_uri).close()
    assert _versions(empty_uri) == [HEAD_REVISION]
    assert _experiment_rows(empty_uri) == before == [(0, "Default"), (int(experiment_id), "kept")]


def test_opening_an_up_to_date_store_does_not_import_alembic(empty_uri) -> None:
    SqlStore(empty_uri).close()
    probe = textwrap.dedent(
        """
        import sys
        from perennia.store.sql.store import SqlStore
        SqlStore(sys.argv[1]).close()
        print("alembic" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, empty_uri], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_database_from_a_newer_perennia_is_refused(empty_uri) -> None:
    SqlStore(empty_uri).close()
    engine = create_engine(empty_uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreUnavailable, match="'9999'"):
        SqlStore(empty_uri)
    assert _versions(empty_uri) == ["9999"]


def test_every_older_revision_is_known_and_upgraded_on_open(empty_uri) -> None:
    from alembic import command
    from alembic.config import Config

    assert KNOWN_REVISIONS[-1] == HEAD_REVISION and len(KNOWN_REVISIONS) == int(HEAD_REVISION)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    for revision in reversed(KNOWN_REVISIONS[:-1]):  # one step older each time
        SqlStore(empty_uri).close()
        engine = create_engine(empty_uri)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
        engine.dispose()
        assert _versions(empty_uri) == [revision]
        SqlStore(empty_uri).close()  # a store opened on an older database migrates it
        assert _versions(empty_uri) == [HEAD_REVISION], revision


def test_migrations_downgrade_to_nothing_and_upgrade_again(empty_uri) -> None:
    from alembic import command
    from alembic.config import Config

    SqlStore(empty_uri).close()
    engine = create_engine(empty_uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    SqlStore(empty_uri).close()
    assert _versions(empty_uri) == [HEAD_REVISION]
    assert _experiment_rows(empty_uri) == [(0, "Default")]


_OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from perennia.store.sql.store import SqlStore  # imported before the barrier: only the open races

    uri, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    ready.touch()
    while not go.exists():
        time.sleep(0.002)
    SqlStore(uri).close()
    """
)


def test_four_processes_opening_an_empty_database_at_once_create_the_schema_once(
    empty_uri, tmp_path
) -> None:
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(4)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, empty_uri, str(ready), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    try:
        # A file barrier: release all four only once every one is waiting at the start line.
        while not all(ready.exists() for ready in readies):
            assert all(p.poll() is None for p in processes), "an opener died before the barrier"
            time.sleep(0.01)
        go.touch()
        results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
    assert _versions(empty_uri) == [HEAD_REVISION]
    assert _experiment_rows(empty_uri) == [(0, "Default")]


def _perennia(*args: str) -> subprocess.CompletedProcess:
    """Run the installed `perennia` command."""
    script = Path(sys.executable).with_name("perennia")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "perennia.cli.main"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_db_upgrade_command_migrates_an_empty_database_and_is_repeatable(empty_uri) -> None:
    for _ in range(2):
        result = _perennia("--tracking-uri", empty_uri, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert f"revision {HEAD_REVISION}" in result.stdout
    assert _versions(empty_uri) == [HEAD_REVISION]
    assert _experiment_rows(empty_uri) == [(0, "Default")]


def test_db_upgrade_command_refuses_a_non_database_uri() -> None:
    result = _perennia("--tracking-uri", "http://127.0.0.1:1", "db", "upgrade")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:") and "not a database URI" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


DATASET_TABLES = {
    "dataset_names",
    "dataset_versions",
    "dataset_parents",
    "dataset_tags",
    "dataset_aliases",
    "dataset_events",
}


def test_revision_0008_adds_the_dataset_tables_to_a_0007_database(empty_uri) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from perennia.entities import DatasetVersion

    SqlStore(empty_uri).close()
    engine = create_engine(empty_uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    assert not DATASET_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    store = SqlStore(empty_uri)  # upgrades 0007 -> head
    try:
        assert set(inspect(store.engine).get_table_names()) >= DATASET_TABLES
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            # Migrated, not created from the models: the two must agree table by table.
            assert compare_metadata(context, schema.metadata) == []
        draft = DatasetVersion("migrated", 0, "a" * 64, "file:///b", "table", parents=[])
        assert store.datasets.create_version(draft).version == 1
        assert store.datasets.create_version(draft).version == 2
    finally:
        store.close()
    assert _versions(empty_uri) == [HEAD_REVISION]


MONITOR_TABLES = {"monitors", "monitor_runs", "monitor_points"}


def test_revision_0009_adds_the_monitor_tables_to_a_0008_database(empty_uri) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from perennia.entities import Monitor, MonitorPoint, MonitorRun

    SqlStore(empty_uri).close()
    engine = create_engine(empty_uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
    assert not MONITOR_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    store = SqlStore(empty_uri)  # upgrades 0008 -> head
    try:
        assert set(inspect(store.engine).get_table_names()) >= MONITOR_TABLES
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            # Migrated, not created from the models: the two must agree table by table.
            assert compare_metadata(context, schema.metadata) == []
        store.monitors.create_monitor(Monitor("migrated", "datasets:/x@1", 1_000))
        run = MonitorRun("migrated", 0, 1_000, 1_001, "ok")
        point = MonitorPoint("migrated", 0, 1_000, "rows", 3.0, 1_001)
        store.monitors.record_window("migrated", run, [point], 1_000)
        store.monitors.record_window("migrated", run, [point], 1_000)
        assert store.monitors.list_points("migrated") == [point]
    finally:
        store.close()
    assert _versions(empty_uri) == [HEAD_REVISION]


ALERT_TABLES = {"alert_states", "alert_events"}


def test_revision_0010_adds_the_alert_tables_to_a_0009_database(empty_uri) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from perennia.entities import AlertEventRecord, AlertStateRecord, Monitor

    SqlStore(empty_uri).close()
    engine = create_engine(empty_uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    tables = set(inspect(engine).get_table_names())
    assert not ALERT_TABLES & tables and "monitors" in tables
    engine.dispose()
    store = SqlStore(empty_uri)  # upgrades 0009 -> head
    try:
        assert set(inspect(store.engine).get_table_names()) >= ALERT_TABLES
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            # Migrated, not created from the models: the two must agree table by table.
            assert compare_metadata(context, schema.metadata) == []
        store.monitors.create_monitor(Monitor("migrated", "datasets:/x@1", 1_000))
        state = AlertStateRecord("migrated", "share_drifted", {"status": "inactive"})
        event = AlertEventRecord("migrated", "share_drifted", "firing", "0" * 16, 5, {"v": 1})
        first = store.alerts.record_alert_step("migrated", [state], [event])
        assert store.alerts.record_alert_step("migrated", [state], [event]) == first
        assert store.alerts.list_alert_events("migrated") == first
        store.monitors.delete_monitor("migrated")  # takes its alerts with it
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alert_events")).scalar_one() == 0
    finally:
        store.close()
    assert _versions(empty_uri) == [HEAD_REVISION]
