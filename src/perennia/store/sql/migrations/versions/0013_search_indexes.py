"""Search at scale: indexes that make ordered, filtered top-k reads follow the answer's size.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PREFIX = 200  # schema.VALUE_PREFIX, frozen here as migrations must be


def _prefix() -> sa.TextClause:
    return sa.text(f"substr(value, 1, {_PREFIX})")


def upgrade() -> None:
    """Create the covering (key, value, run) index and the params/tags (key, value prefix) ones."""
    op.create_index(
        "ix_latest_metrics_key_value_run",
        "latest_metrics",
        ["key", "value", "run_uuid"],
        if_not_exists=True,
    )
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics", if_exists=True)
    op.create_index("ix_params_key_value", "params", ["key", _prefix()], if_not_exists=True)
    op.create_index("ix_tags_key_value", "tags", ["key", _prefix()], if_not_exists=True)


def downgrade() -> None:
    """Drop them and restore the (key, value) index of revision 0001."""
    op.drop_index("ix_tags_key_value", table_name="tags", if_exists=True)
    op.drop_index("ix_params_key_value", table_name="params", if_exists=True)
    op.create_index(
        "ix_latest_metrics_key_value", "latest_metrics", ["key", "value"], if_not_exists=True
    )
    op.drop_index("ix_latest_metrics_key_value_run", table_name="latest_metrics", if_exists=True)
