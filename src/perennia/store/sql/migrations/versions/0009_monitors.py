"""Monitors: stored monitors with their schedule and lease, and each computed window's run and
points (the time series the UI and Grafana chart).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_KEY = 250
_NAME = 256


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("monitor_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(_NAME), nullable=False, unique=True),
        sa.Column("deployment", sa.String(_NAME), nullable=True),
        sa.Column("model_name", sa.String(_NAME), nullable=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("window_ms", sa.BigInteger, nullable=False),
        sa.Column("schedule_ms", sa.BigInteger, nullable=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(_NAME), nullable=True),
        sa.Column("last_window_end_ms", sa.BigInteger, nullable=True),
        sa.Column("next_run_ms", sa.BigInteger, nullable=True),
        sa.Column("lease_owner", sa.String(_NAME), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_monitors_next_run", "monitors", ["next_run_ms"])
    op.create_index("ix_monitors_deployment", "monitors", ["deployment"])
    op.create_table(
        "monitor_runs",
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("window_start_ms", sa.BigInteger, nullable=False),
        sa.Column("window_end_ms", sa.BigInteger, nullable=False),
        sa.Column("computed_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint(
            "monitor_id", "window_start_ms", "window_end_ms", name="monitor_runs_pk"
        ),
    )
    op.create_index("ix_monitor_runs_end", "monitor_runs", ["monitor_id", "window_end_ms"])
    op.create_table(
        "monitor_points",
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.monitor_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("window_start_ms", sa.BigInteger, nullable=False),
        sa.Column("window_end_ms", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("computed_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "monitor_id", "window_start_ms", "window_end_ms", "key", name="monitor_points_pk"
        ),
    )
    op.create_index(
        "ix_monitor_points_series", "monitor_points", ["monitor_id", "key", "window_end_ms"]
    )


def downgrade() -> None:
    for table in ("monitor_points", "monitor_runs", "monitors"):
        op.drop_table(table)
