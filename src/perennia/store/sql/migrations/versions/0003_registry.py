"""The model registry: registered models, versions, tags, aliases and the registry event log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NAME = 256
_KEY = 250


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(_NAME), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(_NAME), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name="registered_model_tags_pk"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(_NAME), nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="model_versions_pk"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="model_version_tags_pk"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("alias", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="model_aliases_pk"),
    )
    op.create_table(
        "registry_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("username", sa.String(_NAME), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_registry_events_model", "registry_events", ["model_name", "event_id"])


def downgrade() -> None:
    for table in (
        "registry_events",
        "model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
