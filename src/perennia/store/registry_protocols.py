"""The registry's store protocols: models and versions, approvals, cards, webhooks, logged models.

`SqlStore` implements each over SQLAlchemy Core (`store.registry`, `store.approvals`,
`store.cards`, `store.webhooks`, `store.logged_models`), and `RestStore` over HTTP, so the SDK,
the server and the tests use one shape. Every mutating method takes the acting `username`
and records a registry event (with before/after) in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from perennia.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    LoggedModel,
    MetricGate,
    ModelCardRevision,
    ModelVersion,
    Page,
    Reader,
    RegisteredModel,
    RegistryEvent,
    Webhook,
    WebhookDelivery,
)


class RegistryStore(Protocol):
    """Registered models, their versions, tags and aliases, and the registry event log."""

    def create_registered_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None,
        owner: str | None = None, username: str | None = None,
    ) -> RegisteredModel:  # fmt: skip
        """Return the new registered model; AlreadyExists when the name is taken."""
        ...

    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the registered model, or raise NotFound."""
        ...

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[RegisteredModel]:
        """Return one page of registered models whose names match the LIKE pattern (with a
        `reader`, only those it may read)."""
        ...

    def update_registered_model(
        self, name: str, description: str | None = None, owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:  # fmt: skip
        """Return the model after changing its description and/or owner."""
        ...

    def rename_registered_model(
        self, name: str, new_name: str, username: str | None = None
    ) -> RegisteredModel:
        """Return the model under its new name (versions, aliases and roles follow)."""
        ...

    def delete_registered_model(self, name: str, username: str | None = None) -> None:
        """Delete the model with its versions, tags and aliases."""
        ...

    def set_registered_model_tag(
        self, name: str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a registered model."""
        ...

    def delete_registered_model_tag(self, name: str, key: str, username: str | None = None) -> None:
        """Delete one tag of a registered model."""
        ...

    def create_model_version(
        self, name: str, source: str, run_id: str | None = None, digest: str | None = None,
        description: str = "", tags: dict[str, str] | None = None, status: str = "READY",
        username: str | None = None,
    ) -> ModelVersion:  # fmt: skip
        """Return a new version numbered one past the model's last (atomic under concurrency)."""
        ...

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Return one version, or raise NotFound."""
        ...

    def get_latest_version(self, name: str) -> ModelVersion:
        """Return the newest version that is not archived."""
        ...

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[ModelVersion]:
        """Return one page of versions, by model and/or source run (with a `reader`, only of
        models it may read)."""
        ...

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None,
        status: str | None = None, status_message: str | None = None, state: str | None = None,
        username: str | None = None,
    ) -> ModelVersion:  # fmt: skip
        """Return the version after changing the given fields."""
        ...

    def delete_model_version(
        self, name: str, version: int | str, username: str | None = None
    ) -> None:
        """Delete one version (and the aliases pointing at it)."""
        ...

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a version."""
        ...

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, username: str | None = None
    ) -> None:
        """Delete one tag of a version."""
        ...

    def set_alias(
        self, name: str, alias: str, version: int | str, *, expected_version: Any = ...,
        username: str | None = None,
    ) -> int | None:  # fmt: skip
        """Point the alias at `version` and return where it pointed before.

        With `expected_version` (None: must be unset) the move is compare-and-set and raises
        Conflict when someone moved it first. An alias guarded by an approval policy is
        refused: it moves only through an approved request, or by `rollback_alias`.
        """
        ...

    def rollback_alias(self, name: str, alias: str, username: str | None = None) -> ModelVersion:
        """Move the alias back one step of its history; return the version it points at now."""
        ...

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias."""
        ...

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version the alias points at, or raise NotFound."""
        ...

    def events(self, name: str | None = None, limit: int = 100) -> list[RegistryEvent]:
        """Return registry events, newest first, optionally for one model."""
        ...


class ApprovalStore(Protocol):
    """Per-alias approval policies and the requests and reviews that move guarded aliases."""

    def set_policy(
        self, name: str, alias: str, *, required_approvals: int = 1,
        reviewer_role: str = "manager", allow_self_approval: bool = False,
        gates: Sequence[MetricGate | str] = (), username: str | None = None,
    ) -> ApprovalPolicy:  # fmt: skip
        """Return the alias's policy after creating or replacing it."""
        ...

    def get_policy(self, name: str, alias: str) -> ApprovalPolicy | None:
        """Return the alias's policy, or None when the alias is not guarded."""
        ...

    def list_policies(self, name: str) -> list[ApprovalPolicy]:
        """Return every policy of the registered model."""
        ...

    def delete_policy(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias's policy (the alias can then be set directly)."""
        ...

    def request(
        self, name: str, version: int | str, alias: str, *, comment: str = "",
        username: str | None = None,
    ) -> ApprovalRequest:  # fmt: skip
        """Return a new PENDING request to point `alias` at `version`."""
        ...

    def review(
        self, request_id: int, decision: str, *, comment: str = "", username: str | None = None
    ) -> ApprovalRequest:
        """Record an approve/reject; return the request, APPLIED once the policy holds."""
        ...

    def cancel(self, request_id: int, username: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request."""
        ...

    def get_request(self, request_id: int) -> ApprovalRequest:
        """Return the request with its reviews and what its policy still needs."""
        ...

    def list_requests(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """Return requests, newest first."""
        ...


class ModelCardStore(Protocol):
    """The editable sections of each model's card, saved as numbered revisions."""

    def edit(
        self, name: str, fields: dict[str, str], *, comment: str = "",
        expected_revision: int | None = None, username: str | None = None,
    ) -> ModelCardRevision:  # fmt: skip
        """Return the new revision: the previous fields updated with `fields` (empty removes)."""
        ...

    def get(self, name: str, revision: int | None = None) -> ModelCardRevision | None:
        """Return one revision (the newest by default), or None before the first edit."""
        ...

    def revisions(self, name: str) -> list[ModelCardRevision]:
        """Return every revision, oldest first."""
        ...


class WebhookStore(Protocol):
    """Webhook subscriptions and the outbox of deliveries fed by registry events."""

    def create(
        self, url: str, *, events: Sequence[str] = (), model_name: str | None = None,
        secret: str | None = None, username: str | None = None,
    ) -> tuple[Webhook, str]:  # fmt: skip
        """Return the new webhook and its signing secret (generated when not given)."""
        ...

    def list(self) -> list[Webhook]:
        """Return every webhook."""
        ...

    def delete(self, webhook_id: int, username: str | None = None) -> None:
        """Remove a webhook and its pending deliveries."""
        ...

    def deliveries(
        self, webhook_id: int | None = None, status: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """Return deliveries, newest first."""
        ...


class LoggedModelStore(Protocol):
    """MLflow 3 logged models: created, tagged, given params and finalized by mlflow clients."""

    def create(
        self, experiment_id: str, name: str, *, source_run_id: str | None = None,
        model_type: str | None = None, params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:  # fmt: skip
        """Return a new PENDING logged model with its artifact location."""
        ...

    def get(self, model_id: str) -> LoggedModel:
        """Return the logged model, or raise NotFound."""
        ...

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        """Return the model after setting its final status (READY or FAILED)."""
        ...

    def search(
        self, experiment_ids: Sequence[str], max_results: int = 100,
        page_token: str | None = None, *, name: str | None = None,
        source_run_id: str | None = None,
    ) -> Page[LoggedModel]:  # fmt: skip
        """Return one page of the experiments' logged models, newest first, optionally filtered."""
        ...

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set tags on a logged model."""
        ...

    def delete_tag(self, model_id: str, key: str) -> None:
        """Delete one tag of a logged model."""
        ...

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        """Record params on a logged model."""
        ...

    def delete(self, model_id: str) -> None:
        """Mark the logged model deleted."""
        ...
