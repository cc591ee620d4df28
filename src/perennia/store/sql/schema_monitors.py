"""Monitors in the metadata schema (on `schema.metadata`, re-exported there; migration 0009).

A monitor's config, and a run's summary, are JSON text read and written whole. Points and runs
hang off the monitor's integer id (never reused, so a deleted monitor's rows cannot surface
under a new one of the same name); each window is keyed by its start and end, which is what
makes recording a window again replace it. `next_run_ms` and the lease columns are what a
replica's claim reads and sets with one conditional UPDATE.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from perennia.store.limits import KEY_LENGTH, NAME_LENGTH
from perennia.store.sql.schema import metadata

monitors = Table(
    "monitors",
    metadata,
    Column("monitor_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    # No foreign keys to deployments or models: a monitor outlives what it watched.
    Column("deployment", String(NAME_LENGTH), nullable=True),
    Column("model_name", String(NAME_LENGTH), nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("reference", Text, nullable=False),
    Column("window_ms", BigInteger, nullable=False),
    Column("schedule_ms", BigInteger, nullable=True),
    Column("config", Text, nullable=False),  # JSON object
    Column("description", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    Column("last_window_end_ms", BigInteger, nullable=True),
    Column("next_run_ms", BigInteger, nullable=True),  # NULL: not scheduled
    Column("lease_owner", String(NAME_LENGTH), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Index("ix_monitors_next_run", "next_run_ms"),
    Index("ix_monitors_deployment", "deployment"),
    sqlite_autoincrement=True,
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column(
        "monitor_id",
        Integer,
        ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("window_end_ms", BigInteger, nullable=False),
    Column("computed_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False),  # JSON object
    Column("error", Text, nullable=True),
    PrimaryKeyConstraint("monitor_id", "window_start_ms", "window_end_ms", name="monitor_runs_pk"),
    Index("ix_monitor_runs_end", "monitor_id", "window_end_ms"),
)

monitor_points = Table(
    "monitor_points",
    metadata,
    Column(
        "monitor_id",
        Integer,
        ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("window_end_ms", BigInteger, nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Float(precision=53), nullable=True),  # NULL: not computable
    Column("computed_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "monitor_id", "window_start_ms", "window_end_ms", "key", name="monitor_points_pk"
    ),
    # One key's series over time: what a chart reads.
    Index("ix_monitor_points_series", "monitor_id", "key", "window_end_ms"),
)
