"""Deployments of registered models (variants, weights, rollout state; compare-and-set on a
revision), and the links from each deployment's changes to the registry event log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NAME = 256


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(_NAME), primary_key=True),
        sa.Column("model_name", sa.String(_NAME), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(_NAME), nullable=True),
        sa.Column("variants", sa.Text, nullable=False),
        sa.Column("previous", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("batching", sa.Text, nullable=False),
        sa.Column("sticky_header", sa.String(128), nullable=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("step_started", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(_NAME), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_deployments_model", "deployments", ["model_name"])
    op.create_table(
        "deployment_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
    )
    op.create_index("ix_deployment_events_name", "deployment_events", ["name", "event_id"])


def downgrade() -> None:
    op.drop_table("deployment_events")
    op.drop_table("deployments")
