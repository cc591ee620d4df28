"""Search at scale: indexes that make ordered, filtered top-k reads follow the answer's size.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-21
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the indexes (filled in with the feature)."""


def downgrade() -> None:
    """Drop them."""
