"""`SqlStore`: the per-entity SQL parts assembled into one `ServerStore`, plus the cross-entity
batch write."""

from __future__ import annotations

from collections.abc import Sequence

from perennia.entities import MetricBatch, Param, RunTag
from perennia.store.checks import check_batch, check_params, check_tags
from perennia.store.sql.access import SqlAccessStore
from perennia.store.sql.alerts import SqlAlertStore
from perennia.store.sql.aliases import SqlAliasStore
from perennia.store.sql.approvals import SqlApprovalStore
from perennia.store.sql.artifacts import SqlArtifactIndex
from perennia.store.sql.audit import SqlAuditLog
from perennia.store.sql.datasets import SqlDatasetStore
from perennia.store.sql.deployments import SqlDeploymentStore
from perennia.store.sql.engine import make_sql_engine, write_transaction
from perennia.store.sql.experiments import SqlExperimentStore
from perennia.store.sql.idempotency import SqlIdempotencyStore
from perennia.store.sql.inputs import SqlInputStore
from perennia.store.sql.logged_models import SqlLoggedModelStore
from perennia.store.sql.metrics import SqlMetricStore, write_metrics
from perennia.store.sql.migrations import ensure_schema
from perennia.store.sql.model_cards import SqlModelCardStore
from perennia.store.sql.model_versions import SqlModelVersionStore
from perennia.store.sql.monitors import SqlMonitorStore
from perennia.store.sql.params import SqlParamStore, write_params
from perennia.store.sql.registered_models import SqlRegisteredModelStore
from perennia.store.sql.retraining import SqlRetrainingStore
from perennia.store.sql.runs import SqlRunStore, require_run
from perennia.store.sql.schedules import SqlScheduleStore
from perennia.store.sql.tags import SqlTagStore, write_tags
from perennia.store.sql.users import SqlUserStore
from perennia.store.sql.webhook_outbox import SqlWebhookOutbox
from perennia.store.sql.webhooks import SqlWebhookStore


class SqlStore:
    """The metadata store on SQLite or PostgreSQL, migrated to the newest schema on open.

    A `ServerStore`: every part of `Store`, plus those a server keeps to itself.
    """

    def __init__(self, uri: str, *, migrate: bool = True) -> None:
        self.uri = uri
        self.engine = make_sql_engine(uri)
        if migrate:
            ensure_schema(self.engine)
        self.experiments = SqlExperimentStore(self.engine)
        self.runs = SqlRunStore(self.engine)
        self.metrics = SqlMetricStore(self.engine)
        self.params = SqlParamStore(self.engine)
        self.tags = SqlTagStore(self.engine)
        self.inputs = SqlInputStore(self.engine)
        self.artifacts = SqlArtifactIndex(self.engine)
        self.registry = SqlRegisteredModelStore(self.engine)
        self.versions = SqlModelVersionStore(self.engine)
        self.aliases = SqlAliasStore(self.engine)
        self.approvals = SqlApprovalStore(self.engine)
        self.cards = SqlModelCardStore(self.engine)
        self.webhooks = SqlWebhookStore(self.engine)
        self.deployments = SqlDeploymentStore(self.engine)
        self.datasets = SqlDatasetStore(self.engine)
        self.monitors = SqlMonitorStore(self.engine)
        self.alerts = SqlAlertStore(self.engine)
        self.schedules = SqlScheduleStore(self.engine)
        self.retraining = SqlRetrainingStore(self.engine)
        # The server's own parts.
        self.users = SqlUserStore(self.engine)
        self.access = SqlAccessStore(self.engine)
        # Per-model roles are kept with the other roles; a RestStore carries this part too.
        self.model_roles = self.access
        self.audit = SqlAuditLog(self.engine)
        self.idempotency = SqlIdempotencyStore(self.engine)
        self.logged_models = SqlLoggedModelStore(self.engine)
        self.webhook_outbox = SqlWebhookOutbox(self.engine)

    def log_batch(
        self,
        run_id: str,
        metrics: MetricBatch | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in a single transaction."""
        if metrics is not None:
            check_batch(metrics)
        clean_params = check_params(params)
        clean_tags = check_tags(tags)
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            write_params(conn, run_id, clean_params)
            if metrics is not None:
                write_metrics(conn, run_id, metrics)
            write_tags(conn, run_id, clean_tags)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"
