"""MLflow 3's logged models in the metadata schema (on `schema.metadata`, re-exported there).

Migration 0004 created the models with their params and tags; 0006 added their metric values
and the links recording which runs consumed or produced them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from perennia.store.limits import KEY_LENGTH, NAME_LENGTH
from perennia.store.sql.schema import metadata

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_type", String(NAME_LENGTH), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Index("ix_logged_models_experiment", "experiment_id", "creation_time"),
    Index("ix_logged_models_run", "source_run_id"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="logged_model_params_pk"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="logged_model_tags_pk"),
)

# Metric values recorded on a logged model (NaN as NULL, as in `metrics`); the run that logged
# each one is kept as text, like a model's source run.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("run_uuid", String(32), nullable=True),
    Column("dataset_name", String(NAME_LENGTH), nullable=True),
    Column("dataset_digest", String(64), nullable=True),
    Index("ix_logged_model_metrics_model", "model_id", "key"),
    Index("ix_logged_model_metrics_dataset", "dataset_name", "dataset_digest"),
)

# Logged models a run consumed ("input") or produced ("output", at a step): MLflow's run
# inputs.model_inputs and outputs.model_outputs.
run_model_links = Table(
    "run_model_links",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("direction", String(8), nullable=False),
    Column("step", BigInteger, nullable=True),
    PrimaryKeyConstraint("run_uuid", "model_id", "direction", name="run_model_links_pk"),
    Index("ix_run_model_links_model", "model_id"),
)
