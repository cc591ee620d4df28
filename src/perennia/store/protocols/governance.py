"""The registry's governance parts: approval policies and requests, model cards, per-model roles.

The rules these parts apply (what a policy needs, who may review, which moves a guarded alias
refuses) are pure functions in `perennia.entities.approval_rules`, shared by every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import ApprovalPolicy, ApprovalRequest, MetricGate, ModelCardRevision, Role


class ApprovalStore(Protocol):
    """Per-alias approval policies and the requests and reviews that move guarded aliases."""

    def set_policy(
        self,
        name: str,
        alias: str,
        *,
        required_approvals: int = 1,
        reviewer_role: str = "manager",
        allow_self_approval: bool = False,
        gates: Sequence[MetricGate | str] = (),
        username: str | None = None,
    ) -> ApprovalPolicy:
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
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        comment: str = "",
        username: str | None = None,
    ) -> ApprovalRequest:
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
        self,
        name: str,
        fields: dict[str, str],
        *,
        comment: str = "",
        expected_revision: int | None = None,
        username: str | None = None,
    ) -> ModelCardRevision:
        """Return the new revision: the previous fields updated with `fields` (empty removes)."""
        ...

    def get(self, name: str, revision: int | None = None) -> ModelCardRevision | None:
        """Return one revision (the newest by default), or None before the first edit."""
        ...

    def revisions(self, name: str) -> list[ModelCardRevision]:
        """Return every revision, oldest first."""
        ...


class ModelRoleStore(Protocol):
    """Who holds which role on a registered model (viewer, editor, manager)."""

    def set_model_role(self, name: str, username: str, role: Role | str | None) -> None:
        """Give a user a role on a registered model (None removes it)."""
        ...

    def model_roles(self, name: str) -> dict[str, Role]:
        """Return every explicit role on a registered model, by username."""
        ...
