"""Automation in the metadata schema (on `schema.metadata`, re-exported there; migration 0011).

Schedules and retraining policies carry the lease columns a replica's claim reads and sets with
one conditional UPDATE, as monitors do. A policy's `in_flight` holds the id of its running
retraining: `start_retraining` sets it only where it is NULL (one conditional UPDATE, so at most
one retraining per model), and a retraining's move to a terminal state clears it. Retrainings
have no foreign key to their policy: a deleted policy's retrainings stay as history. Params,
triggers, configs, cursors and details are JSON text read and written whole.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from perennia.store.limits import NAME_LENGTH
from perennia.store.sql.schema import metadata

schedules = Table(
    "schedules",
    metadata,
    Column("schedule_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("target", Text, nullable=False),
    Column("cron", String(NAME_LENGTH), nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("enabled", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("next_run_ms", BigInteger, nullable=True),
    Column("last_run_ms", BigInteger, nullable=True),
    Column("last_status", String(16), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_run_id", String(NAME_LENGTH), nullable=True),
    Column("lease_owner", String(NAME_LENGTH), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_schedules_next_run", "next_run_ms"),
    sqlite_autoincrement=True,
)

retraining_policies = Table(
    "retraining_policies",
    metadata,
    Column("model_name", String(NAME_LENGTH), primary_key=True),
    Column("pipeline", Text, nullable=False),
    Column("triggers", Text, nullable=False),  # JSON list of objects
    Column("config", Text, nullable=False),  # JSON object
    Column("cooldown_ms", BigInteger, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("cursor", Text, nullable=False),  # JSON object
    Column("in_flight", BigInteger, nullable=True),
    Column("last_triggered_ms", BigInteger, nullable=True),
    Column("next_check_ms", BigInteger, nullable=True),
    Column("lease_owner", String(NAME_LENGTH), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_retraining_policies_next_check", "next_check_ms"),
)

retrainings = Table(
    "retrainings",
    metadata,
    Column("retraining_id", Integer, primary_key=True, autoincrement=True),
    Column("model_name", String(NAME_LENGTH), nullable=False),
    Column("state", String(32), nullable=False),
    Column("trigger", Text, nullable=False),  # JSON object
    Column("started_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=True),
    Column("pipeline_run_id", String(NAME_LENGTH), nullable=True),
    Column("challenger_version", Integer, nullable=True),
    Column("champion_version", Integer, nullable=True),
    Column("approval_request_id", BigInteger, nullable=True),
    Column("deployment", String(NAME_LENGTH), nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_retrainings_model", "model_name", "retraining_id"),
    sqlite_autoincrement=True,
)

retraining_events = Table(
    "retraining_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "retraining_id",
        Integer,
        ForeignKey("retrainings.retraining_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("time_ms", BigInteger, nullable=False),
    Column("state", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_retraining_events_retraining", "retraining_id", "event_id"),
    sqlite_autoincrement=True,
)
