"""Dataset versions: named, numbered, content-addressed snapshots, with their parents, tags,
aliases, events, and a per-name counter that numbers registrations atomically.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_KEY = 250
_NAME = 256


def upgrade() -> None:
    op.create_table(
        "dataset_names",
        sa.Column("name", sa.String(_NAME), primary_key=True),
        sa.Column("latest_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("storage_uri", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=True),
        sa.Column("file_count", sa.BigInteger, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("new_bytes", sa.BigInteger, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("derivation", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contract", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(_NAME), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="dataset_versions_pk"),
    )
    op.create_index("ix_dataset_versions_digest", "dataset_versions", ["digest"])
    op.create_table(
        "dataset_parents",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("parent_name", sa.String(_NAME), nullable=False),
        sa.Column("parent_version", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "name", "version", "parent_name", "parent_version", name="dataset_parents_pk"
        ),
    )
    op.create_index(
        "ix_dataset_parents_parent", "dataset_parents", ["parent_name", "parent_version"]
    )
    op.create_table(
        "dataset_tags",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="dataset_tags_pk"),
    )
    op.create_table(
        "dataset_aliases",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("alias", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="dataset_aliases_pk"),
    )
    op.create_table(
        "dataset_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("username", sa.String(_NAME), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dataset_events_name", "dataset_events", ["name", "event_id"])


def downgrade() -> None:
    for table in (
        "dataset_events",
        "dataset_aliases",
        "dataset_tags",
        "dataset_parents",
        "dataset_versions",
        "dataset_names",
    ):
        op.drop_table(table)
