"""Metric summaries: per-bucket extremes of long metric histories, for charts at any length.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-21
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the summary tables (filled in with the feature)."""


def downgrade() -> None:
    """Drop them."""
