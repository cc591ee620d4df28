"""Automation: cron schedules, retraining policies (both with leases), retrainings and their
events.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_NAME = 256


def _lease() -> list[sa.Column]:
    return [
        sa.Column("lease_owner", sa.String(_NAME), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(_NAME), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(_NAME), nullable=False, unique=True),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("cron", sa.String(_NAME), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("next_run_ms", sa.BigInteger, nullable=True),
        sa.Column("last_run_ms", sa.BigInteger, nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_run_id", sa.String(_NAME), nullable=True),
        *_lease(),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_schedules_next_run", "schedules", ["next_run_ms"])
    op.create_table(
        "retraining_policies",
        sa.Column("model_name", sa.String(_NAME), primary_key=True),
        sa.Column("pipeline", sa.Text, nullable=False),
        sa.Column("triggers", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("cooldown_ms", sa.BigInteger, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("in_flight", sa.BigInteger, nullable=True),
        sa.Column("last_triggered_ms", sa.BigInteger, nullable=True),
        sa.Column("next_check_ms", sa.BigInteger, nullable=True),
        *_lease(),
    )
    op.create_index("ix_retraining_policies_next_check", "retraining_policies", ["next_check_ms"])
    op.create_table(
        "retrainings",
        sa.Column("retraining_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(_NAME), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
        sa.Column("pipeline_run_id", sa.String(_NAME), nullable=True),
        sa.Column("challenger_version", sa.Integer, nullable=True),
        sa.Column("champion_version", sa.Integer, nullable=True),
        sa.Column("approval_request_id", sa.BigInteger, nullable=True),
        sa.Column("deployment", sa.String(_NAME), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_retrainings_model", "retrainings", ["model_name", "retraining_id"])
    op.create_table(
        "retraining_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "retraining_id",
            sa.Integer,
            sa.ForeignKey("retrainings.retraining_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_retraining_events_retraining", "retraining_events", ["retraining_id", "event_id"]
    )


def downgrade() -> None:
    for table in ("retraining_events", "retrainings", "retraining_policies", "schedules"):
        op.drop_table(table)
