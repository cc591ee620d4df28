"""Governance: per-model roles, approval policies, requests and reviews, model card revisions,
webhooks with their delivery outbox, MLflow 3's logged models, and idempotency keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NAME = 256
_KEY = 250


def upgrade() -> None:
    op.create_table(
        "model_permissions",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name", "user_id", name="model_permissions_pk"),
    )
    op.create_table(
        "approval_policies",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("alias", sa.String(_NAME), nullable=False),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("reviewer_role", sa.String(16), nullable=False),
        sa.Column("allow_self_approval", sa.Integer, nullable=False),
        sa.Column("gates", sa.Text, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(_NAME), nullable=True),
        sa.PrimaryKeyConstraint("name", "alias", name="approval_policies_pk"),
    )
    op.create_table(
        "approval_requests",
        sa.Column("request_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(_NAME), nullable=False),
        sa.Column("requested_by", sa.String(_NAME), nullable=True),
        sa.Column("requested_time", sa.BigInteger, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_time", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_approval_requests_model", "approval_requests", ["name", "status"])
    op.create_index(
        "ux_approval_requests_pending",
        "approval_requests",
        ["name", "alias", "version"],
        unique=True,
        postgresql_where=sa.text("status = 'PENDING'"),
        sqlite_where=sa.text("status = 'PENDING'"),
    )
    op.create_table(
        "approval_reviews",
        sa.Column(
            "request_id",
            sa.Integer,
            sa.ForeignKey("approval_requests.request_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("reviewer", sa.String(_NAME), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("request_id", "reviewer", name="approval_reviews_pk"),
    )
    op.create_table(
        "model_card_revisions",
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("author", sa.String(_NAME), nullable=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "revision", name="model_card_revisions_pk"),
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("model_name", sa.String(_NAME), nullable=True),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(_NAME), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "webhook_id",
            sa.Integer,
            sa.ForeignKey("webhooks.webhook_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_time", sa.BigInteger, nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_time", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_time"]
    )
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("model_type", sa.String(_NAME), nullable=True),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_logged_models_experiment", "logged_models", ["experiment_id", "creation_time"]
    )
    op.create_index("ix_logged_models_run", "logged_models", ["source_run_id"])
    for table, pk in (
        ("logged_model_params", "logged_model_params_pk"),
        ("logged_model_tags", "logged_model_tags_pk"),
    ):
        op.create_table(
            table,
            sa.Column(
                "model_id",
                sa.String(64),
                sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("key", sa.String(_KEY), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("model_id", "key", name=pk),
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("username", sa.String(_NAME), nullable=False),
        sa.Column("request", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", "username", name="idempotency_keys_pk"),
    )
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_time"])


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "logged_model_tags",
        "logged_model_params",
        "logged_models",
        "webhook_deliveries",
        "webhooks",
        "model_card_revisions",
        "approval_reviews",
        "approval_requests",
        "approval_policies",
        "model_permissions",
    ):
        op.drop_table(table)
