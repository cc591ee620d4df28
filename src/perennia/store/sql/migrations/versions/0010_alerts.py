"""Alerts: each monitor rule's alert state, and the audit trail of alert firings and resolves.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_RULE = 128


def _monitor_id() -> sa.Column:
    return sa.Column(
        "monitor_id",
        sa.Integer,
        sa.ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "alert_states",
        _monitor_id(),
        sa.Column("rule", sa.String(_RULE), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "rule", name="alert_states_pk"),
    )
    op.create_table(
        "alert_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        _monitor_id(),
        sa.Column("rule", sa.String(_RULE), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("recorded_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "monitor_id",
            "rule",
            "fingerprint",
            "status",
            "time_ms",
            name="uq_alert_events_identity",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_events_monitor_time", "alert_events", ["monitor_id", "time_ms"])
    op.create_index("ix_alert_events_time", "alert_events", ["time_ms"])


def downgrade() -> None:
    for table in ("alert_events", "alert_states"):
        op.drop_table(table)
