"""Idempotency-key leases (a retry may take over a claim whose worker died) and blob uploads
(which user sent which blob, so a manifest entry may only name bytes its writer may use).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NAME = 256


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("claim", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.BigInteger, nullable=True))
    op.create_table(
        "blob_uploads",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("username", sa.String(_NAME), nullable=False),
        sa.Column("upload_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("digest", "username", name="blob_uploads_pk"),
    )
    op.create_index("ix_blob_uploads_time", "blob_uploads", ["upload_time"])


def downgrade() -> None:
    op.drop_table("blob_uploads")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claim")
