"""The store interface: `Store`, assembled from one small protocol per part.

The SDK, the CLI and the server talk only to these protocols. `SqlStore` implements them over
SQLite and PostgreSQL, `RestStore` over HTTP against `perennia server`; `ServerStore` adds the
parts that stay behind a server (users, roles, audit, idempotency keys, the webhook outbox,
MLflow's logged models), which only a database-backed store has.

The protocols themselves live in `perennia.store.protocols`, one module per area; their names
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from perennia.entities import MetricBatch, Param, RunTag
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS
from perennia.store.protocols.access import AccessStore, UserStore
from perennia.store.protocols.alerts import AlertStore
from perennia.store.protocols.automation import RetrainingStore, ScheduleStore
from perennia.store.protocols.datasets import DatasetStore
from perennia.store.protocols.deployments import DeploymentStore
from perennia.store.protocols.experiments import ExperimentStore
from perennia.store.protocols.governance import ApprovalStore, ModelCardStore, ModelRoleStore
from perennia.store.protocols.logged_models import LoggedModelStore
from perennia.store.protocols.monitors import MonitorStore
from perennia.store.protocols.registry import AliasStore, ModelVersionStore, RegisteredModelStore
from perennia.store.protocols.requests import AuditLog, IdempotencyStore
from perennia.store.protocols.run_data import (
    ArtifactIndex,
    InputStore,
    MetricStore,
    ParamStore,
    TagStore,
)
from perennia.store.protocols.runs import RunStore
from perennia.store.protocols.webhooks import WebhookOutbox, WebhookStore

__all__ = [
    "DEFAULT_SEARCH_MAX_RESULTS",
    "MAX_SEARCH_RESULTS",
    "AccessStore",
    "AlertStore",
    "AliasStore",
    "ApprovalStore",
    "ArtifactIndex",
    "AuditLog",
    "DatasetStore",
    "DeploymentStore",
    "ExperimentStore",
    "IdempotencyStore",
    "InputStore",
    "LoggedModelStore",
    "MetricStore",
    "ModelCardStore",
    "ModelRoleStore",
    "ModelVersionStore",
    "MonitorStore",
    "ParamStore",
    "RegisteredModelStore",
    "RetrainingStore",
    "RunStore",
    "ScheduleStore",
    "ServerStore",
    "Store",
    "TagStore",
    "UserStore",
    "WebhookOutbox",
    "WebhookStore",
]


@runtime_checkable
class Store(Protocol):
    """A whole metadata store: one attribute per part, plus the one cross-entity write.

    Adding a part (deployments, prediction logs, datasets, monitors, alerts, pipelines) follows one
    rule: a small Protocol in `store/protocols/`, its SQL implementation in `store/sql/` (tables
    and an Alembic migration), its routes in the server and its client in `store/rest/`, an
    attribute here (or on `ServerStore` if it stays behind the server), and the shared store
    tests on SQLite, PostgreSQL and REST; `tests/store/test_protocol_signatures.py` then checks
    both backends have every method with the protocol's signature.
    """

    uri: str
    # Tracking.
    experiments: ExperimentStore
    runs: RunStore
    metrics: MetricStore
    params: ParamStore
    tags: TagStore
    inputs: InputStore
    artifacts: ArtifactIndex
    # The model registry and its governance.
    registry: RegisteredModelStore
    versions: ModelVersionStore
    aliases: AliasStore
    approvals: ApprovalStore
    cards: ModelCardStore
    model_roles: ModelRoleStore
    webhooks: WebhookStore
    # Serving.
    deployments: DeploymentStore
    # Data.
    datasets: DatasetStore
    # Monitoring.
    monitors: MonitorStore
    alerts: AlertStore
    # Automation: schedules, retraining policies and retrainings.
    schedules: ScheduleStore
    retraining: RetrainingStore

    def log_batch(
        self,
        run_id: str,
        metrics: MetricBatch | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in a single transaction."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class ServerStore(Store, Protocol):
    """A store that is the database itself: `Store` plus the parts a server keeps to itself.

    `SqlStore` is one; a `RestStore` is not (it reaches these parts only through the server's
    routes), so code that needs them, the server first of all, asks for a `ServerStore`.
    """

    users: UserStore
    access: AccessStore
    audit: AuditLog
    idempotency: IdempotencyStore
    logged_models: LoggedModelStore
    webhook_outbox: WebhookOutbox
