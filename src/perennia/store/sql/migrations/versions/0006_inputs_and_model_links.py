"""Every tag of a run's dataset input, not only its context (MLflow logs several per input);
metric values recorded on logged models; and which logged models a run consumed or produced.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_KEY = 250
_NAME = 256


def upgrade() -> None:
    with op.batch_alter_table("run_inputs") as batch:
        batch.add_column(sa.Column("tags", sa.Text, nullable=True))
    op.create_table(
        "logged_model_metrics",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(_KEY), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=True),
        sa.Column("dataset_name", sa.String(_NAME), nullable=True),
        sa.Column("dataset_digest", sa.String(64), nullable=True),
    )
    op.create_index("ix_logged_model_metrics_model", "logged_model_metrics", ["model_id", "key"])
    op.create_index(
        "ix_logged_model_metrics_dataset",
        "logged_model_metrics",
        ["dataset_name", "dataset_digest"],
    )
    op.create_table(
        "run_model_links",
        sa.Column(
            "run_uuid",
            sa.String(32),
            sa.ForeignKey("runs.run_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("run_uuid", "model_id", "direction", name="run_model_links_pk"),
    )
    op.create_index("ix_run_model_links_model", "run_model_links", ["model_id"])


def downgrade() -> None:
    op.drop_table("run_model_links")
    op.drop_table("logged_model_metrics")
    with op.batch_alter_table("run_inputs") as batch:
        batch.drop_column("tags")
