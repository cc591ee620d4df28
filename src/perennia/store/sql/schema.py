"""The metadata schema as SQLAlchemy Core tables: the single source the queries are written against.

Migrations in `migrations/versions/` create the same tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from perennia.store.limits import ARTIFACT_PATH_LENGTH, KEY_LENGTH, NAME_LENGTH

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    # When the experiment went to the trash; restore() revives the runs trashed with it.
    Column("deleted_time", BigInteger, nullable=True),
    # Ids are never reused after a purge, so old links cannot point at a newer experiment.
    sqlite_autoincrement=True,
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key", name="experiment_tags_pk"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("user_id", String(NAME_LENGTH), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("heartbeat_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Column("parent_run_uuid", String(32), nullable=True),
    Column("source_name", Text, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_status_heartbeat", "status", "heartbeat_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="params_pk"),
    Index("ix_params_key", "key"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="tags_pk"),
    Index("ix_tags_key", "key"),
)

# NaN is stored as NULL: SQLite cannot hold a NaN REAL, and one encoding for both engines
# keeps search semantics identical. Infinities are stored as themselves.
metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_metrics_run_key_step", "run_uuid", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="latest_metrics_pk"),
    # Covering: an ordered top-k walks (key, value) and reads the run id from the index alone.
    Index("ix_latest_metrics_key_value_run", "key", "value", "run_uuid"),
)

# Param and tag equality through (key, first VALUE_PREFIX characters of value): short enough for
# PostgreSQL's btree entry limit whatever the value's length; longer values match on the prefix
# through the index and are then compared whole (see run_search._condition).
VALUE_PREFIX = 200


def value_prefix(column):
    """Return the indexed prefix expression of a params/tags `value` column (constants inlined,
    so both engines match it against the index)."""
    from sqlalchemy import func, literal_column

    return func.substr(column, literal_column("1"), literal_column(str(VALUE_PREFIX)))


Index("ix_params_key_value", params.c.key, value_prefix(params.c.value))
Index("ix_tags_key_value", tags.c.key, value_prefix(tags.c.value))

datasets = Table(
    "datasets",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("source_type", String(64), nullable=False),
    Column("schema", Text, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("targets", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", "digest", name="datasets_pk"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("dataset_name", String(NAME_LENGTH), nullable=False),
    Column("dataset_digest", String(64), nullable=False),
    Column("context", String(64), nullable=False),
    Column("tags", Text, nullable=True),  # JSON object of the input's other tags; NULL: none
    PrimaryKeyConstraint(
        "run_uuid", "dataset_name", "dataset_digest", "context", name="run_inputs_pk"
    ),
    ForeignKeyConstraint(
        ["dataset_name", "dataset_digest"],
        ["datasets.name", "datasets.digest"],
        name="run_inputs_dataset_fk",
    ),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("path", String(ARTIFACT_PATH_LENGTH), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "path", name="artifacts_pk"),
    Index("ix_artifacts_digest", "digest"),
)

# -- people and access (the server's users, tokens, roles, and what they did) ------------------

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(NAME_LENGTH), nullable=False, unique=True),
    Column("password_hash", String(512), nullable=True),
    Column("is_admin", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    # sha256 of the secret: the secret itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("revoked_time", BigInteger, nullable=True),
    sqlite_autoincrement=True,
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id", name="experiment_permissions_pk"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("username", String(NAME_LENGTH), nullable=True),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("target", String(64), nullable=True),
    Column("status", Integer, nullable=False),
    Index("ix_audit_log_time", "time"),
    sqlite_autoincrement=True,
)

# The model registry. Names are the keys users see; a rename updates every table in one
# transaction, so no foreign keys on name (SQLite cannot cascade an update without them on).
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("owner", String(NAME_LENGTH), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # Incremented with UPDATE ... RETURNING, so concurrent registrations get distinct numbers.
    Column("next_version", Integer, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "key", name="registered_model_tags_pk"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("user_id", String(NAME_LENGTH), nullable=True),
    Column("source", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("digest", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("state", String(16), nullable=False),
    PrimaryKeyConstraint("name", "version", name="model_versions_pk"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "key", name="model_version_tags_pk"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", "alias", name="model_aliases_pk"),
)

registry_events = Table(
    "registry_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("username", String(NAME_LENGTH), nullable=True),
    Column("action", String(64), nullable=False),
    Column("model_name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Index("ix_registry_events_model", "model_name", "event_id"),
    sqlite_autoincrement=True,
)

# Governance (migration 0004): per-model roles, approval policies and requests, model card
# revisions, webhooks with their delivery outbox. MLflow 3's logged models: schema_models.py.
model_permissions = Table(
    "model_permissions",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    PrimaryKeyConstraint("name", "user_id", name="model_permissions_pk"),
)

approval_policies = Table(
    "approval_policies",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("required_approvals", Integer, nullable=False),
    Column("reviewer_role", String(16), nullable=False),
    Column("allow_self_approval", Integer, nullable=False),
    Column("gates", Text, nullable=False),  # JSON list of {"metric", "op", "threshold"}
    Column("updated_time", BigInteger, nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=True),
    PrimaryKeyConstraint("name", "alias", name="approval_policies_pk"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("request_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("requested_by", String(NAME_LENGTH), nullable=True),
    Column("requested_time", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_time", BigInteger, nullable=True),
    Index("ix_approval_requests_model", "name", "status"),
    # At most one pending request per (model, alias, version), even when two ask at once.
    Index(
        "ux_approval_requests_pending",
        "name",
        "alias",
        "version",
        unique=True,
        postgresql_where=text("status = 'PENDING'"),
        sqlite_where=text("status = 'PENDING'"),
    ),
    sqlite_autoincrement=True,
)

approval_reviews = Table(
    "approval_reviews",
    metadata,
    Column(
        "request_id",
        Integer,
        ForeignKey("approval_requests.request_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("reviewer", String(NAME_LENGTH), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("comment", Text, nullable=False),
    Column("time", BigInteger, nullable=False),
    PrimaryKeyConstraint("request_id", "reviewer", name="approval_reviews_pk"),
)

model_card_revisions = Table(
    "model_card_revisions",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("fields", Text, nullable=False),  # JSON object of the editable sections
    Column("author", String(NAME_LENGTH), nullable=True),
    Column("time", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    PrimaryKeyConstraint("name", "revision", name="model_card_revisions_pk"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # HMAC key; signing needs it back, so not hashed
    Column("events", Text, nullable=False),  # JSON list of actions, empty for all
    Column("model_name", String(NAME_LENGTH), nullable=True),  # None: every model
    Column("active", Integer, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "webhook_id", Integer, ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), nullable=False
    ),
    Column("event_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending, sending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_time", BigInteger, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_time", BigInteger, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_time"),
    sqlite_autoincrement=True,
)

# Idempotency keys: a retried write (same key) is answered from here instead of run twice.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(128), nullable=False),
    Column("username", String(NAME_LENGTH), nullable=False),  # "" when sign-in is off
    Column("request", String(64), nullable=False),  # sha256 of method, path and body
    Column("status", Integer, nullable=True),  # null while the first attempt is running
    Column("body", Text, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    # The attempt holding the key (a random token) and until when; a later attempt may take
    # over an expired lease (its worker died or its database dropped before the answer).
    Column("claim", String(32), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    PrimaryKeyConstraint("key", "username", name="idempotency_keys_pk"),
    Index("ix_idempotency_keys_created", "created_time"),
)

# Who uploaded which blob: sending the bytes proves you hold them, so you may name the digest
# in a manifest; otherwise a digest is usable only through a run you may read.
blob_uploads = Table(
    "blob_uploads",
    metadata,
    Column("digest", String(64), nullable=False),
    Column("username", String(NAME_LENGTH), nullable=False),
    Column("upload_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("digest", "username", name="blob_uploads_pk"),
    Index("ix_blob_uploads_time", "upload_time"),
)

# Deployments (0007); dataset versions (0008); monitors (0009); monitors' alerts (0010); schedules
# and retraining (0011); MLflow 3's logged models, their params, tags and metrics, and runs' links.
from perennia.store.sql.schema_alerts import (  # noqa: E402, F401
    alert_events,
    alert_states,
)
from perennia.store.sql.schema_automation import (  # noqa: E402, F401
    retraining_events,
    retraining_policies,
    retrainings,
    schedules,
)
from perennia.store.sql.schema_datasets import (  # noqa: E402, F401
    dataset_aliases,
    dataset_events,
    dataset_names,
    dataset_parents,
    dataset_tags,
    dataset_versions,
)
from perennia.store.sql.schema_deployments import (  # noqa: E402, F401
    deployment_events,
    deployments,
)
from perennia.store.sql.schema_metric_summaries import (  # noqa: E402, F401
    metric_summaries,
)
from perennia.store.sql.schema_models import (  # noqa: E402, F401
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    run_model_links,
)
from perennia.store.sql.schema_monitors import (  # noqa: E402, F401
    monitor_points,
    monitor_runs,
    monitors,
)
