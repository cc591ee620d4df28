"""Monitors' alerts in the metadata schema (on `schema.metadata`, re-exported there; migration
0010).

Both tables hang off the monitor's integer id, so deleting a monitor takes its alerts with it
and a new monitor of the same name starts with none. A state is one row per rule, replaced on
every step; events are an append-only audit trail whose unique key (rule, fingerprint, status,
time) is what makes recording a window's events again a no-op.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from perennia.store.sql.schema import metadata

RULE_LENGTH = 128

alert_states = Table(
    "alert_states",
    metadata,
    Column(
        "monitor_id",
        Integer,
        ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rule", String(RULE_LENGTH), nullable=False),
    Column("state", Text, nullable=False),  # JSON object: the state machine's AlertState
    Column("updated_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("monitor_id", "rule", name="alert_states_pk"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "monitor_id",
        Integer,
        ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rule", String(RULE_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fingerprint", String(16), nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("event", Text, nullable=False),  # JSON object: the event's to_dict()
    Column("recorded_ms", BigInteger, nullable=False),
    UniqueConstraint(
        "monitor_id", "rule", "fingerprint", "status", "time_ms", name="uq_alert_events_identity"
    ),
    # One monitor's trail over time, and every monitor's (the newest alerts anywhere).
    Index("ix_alert_events_monitor_time", "monitor_id", "time_ms"),
    Index("ix_alert_events_time", "time_ms"),
    # Ids are never reused on SQLite either, so "newer id" always means "recorded later".
    sqlite_autoincrement=True,
)
