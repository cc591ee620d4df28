"""Metric summaries: per-bucket extremes of long metric histories, for charts at any length.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEY = 250


def upgrade() -> None:
    """Create the summary table and fill it from the points already stored."""
    op.create_table(
        "metric_summaries",
        sa.Column(
            "run_uuid",
            sa.String(32),
            sa.ForeignKey("runs.run_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("min_value", sa.Float(precision=53), nullable=True),
        sa.Column("min_step", sa.BigInteger, nullable=True),
        sa.Column("min_timestamp", sa.BigInteger, nullable=True),
        sa.Column("max_value", sa.Float(precision=53), nullable=True),
        sa.Column("max_step", sa.BigInteger, nullable=True),
        sa.Column("max_timestamp", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("run_uuid", "key", "level", "bucket", name="metric_summaries_pk"),
    )
    from perennia.store.sql.metric_summaries import rebuild_summaries

    rebuild_summaries(op.get_bind())


def downgrade() -> None:
    """Drop the summary table."""
    op.drop_table("metric_summaries")
