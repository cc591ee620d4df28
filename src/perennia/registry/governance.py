"""Governance in the registry SDK: approval policies and requests, model cards, per-model roles.

Who acts is the current user (the login name) on an embedded store;
against a server with sign-in on it is always the signed-in user, whatever is passed here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from perennia.entities import ApprovalPolicy, ApprovalRequest, MetricGate, ModelCardRevision
from perennia.registry.session import acting_user as _user
from perennia.registry.session import current_store as _store
from perennia.registry.session import sends_webhooks


@sends_webhooks
def set_approval_policy(
    name: str,
    alias: str,
    *,
    required_approvals: int = 1,
    reviewer_role: str = "manager",
    allow_self_approval: bool = False,
    gates: Sequence[MetricGate | str] = (),
) -> ApprovalPolicy:
    """Return the policy guarding `alias` of `name` after setting it.

    `gates` are conditions on the version's source-run metrics, e.g. "test_roc_auc >= 0.9".
    From then on the alias moves only through an approved request (or a rollback).
    """
    return _store().approvals.set_policy(
        name,
        alias,
        required_approvals=required_approvals,
        reviewer_role=reviewer_role,
        allow_self_approval=allow_self_approval,
        gates=gates,
        username=_user(),
    )


def get_approval_policy(name: str, alias: str) -> ApprovalPolicy | None:
    """Return the policy guarding an alias, or None when it is not guarded."""
    return _store().approvals.get_policy(name, alias)


@sends_webhooks
def request_approval(
    name: str, version: int | str, alias: str, *, comment: str = ""
) -> ApprovalRequest:
    """Return a new request to point `alias` at `version`, with what its policy still needs."""
    return _store().approvals.request(name, version, alias, comment=comment, username=_user())


@sends_webhooks
def approve(request_id: int, *, comment: str = "", reviewer: str | None = None) -> ApprovalRequest:
    """Approve a request; return it, APPLIED (alias moved) once its policy holds."""
    return _store().approvals.review(
        request_id, "approve", comment=comment, username=_user(reviewer)
    )


@sends_webhooks
def reject(request_id: int, *, comment: str = "", reviewer: str | None = None) -> ApprovalRequest:
    """Reject a request; return it, REJECTED."""
    return _store().approvals.review(
        request_id, "reject", comment=comment, username=_user(reviewer)
    )


@sends_webhooks
def cancel_request(request_id: int) -> ApprovalRequest:
    """Withdraw a pending request you made; return it, CANCELLED."""
    return _store().approvals.cancel(request_id, username=_user())


def get_approval_request(request_id: int) -> ApprovalRequest:
    """Return one request with its reviews and what its policy still needs."""
    return _store().approvals.get_request(request_id)


def list_approval_requests(
    name: str | None = None, status: str | None = None, limit: int = 100
) -> list[ApprovalRequest]:
    """Return approval requests, newest first."""
    return _store().approvals.list_requests(name, status, limit)


@sends_webhooks
def edit_card(
    name: str, *, comment: str = "", expected_revision: int | None = None, **sections: str
) -> ModelCardRevision:
    """Return the card's new revision after updating the given sections (empty text removes one).

    Sections: intended_use, out_of_scope_use, limitations, ethical_considerations,
    caveats_and_recommendations, or any other lowercase name.
    """
    return _store().cards.edit(
        name, sections, comment=comment, expected_revision=expected_revision, username=_user()
    )


def get_card(name: str, revision: int | None = None) -> ModelCardRevision | None:
    """Return a revision of the card's editable sections (the newest by default), or None."""
    return _store().cards.get(name, revision)


def write_card(
    name: str, version: int | str | None = None, folder: str | Path | None = None
) -> tuple[Path, Path]:
    """Return the paths of the version's model card, written as Markdown and as HTML."""
    from perennia.registry.cards import write_card as write

    return write(name, None if version is None else int(version), folder)


def set_model_role(name: str, username: str, role: str | None) -> None:
    """Give a user a role (viewer, editor, manager) on a registered model; None removes it.

    In the embedded store nobody signs in and people are names, so a name seen for the first
    time becomes a user without a password; a server's users are created by its admins.
    """
    from perennia.errors import AlreadyExists

    store = _store()
    store.registry.get_registered_model(name)
    users = getattr(store, "users", None)  # only the embedded store holds users in-process
    if users is not None and role is not None:
        with contextlib.suppress(AlreadyExists):
            users.create_user(username, None)
    store.model_roles.set_model_role(name, username, role)
