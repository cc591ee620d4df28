"""Registry governance over HTTP: approval policies, requests and reviews, and model cards.

What belongs to one model lives under `/api/v1/registered-models/{name}/` (policies, its
requests, its card); a request, once made, is addressed by its id right after
`/api/v1/approval-requests/`, so the access layer can find the model either way.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from perennia.entities import MetricGate, Role, to_dict
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import entity, store_of
from perennia.server.routes.registry import MODEL, Acting, acting_user
from perennia.server.schemas import Strict
from perennia.store.base import ServerStore

router = APIRouter(tags=["governance"])

REQUESTS = "/api/v1/approval-requests"
REQUEST = REQUESTS + "/{request_id}"
# Ids, versions and counts are 32-bit INTEGER columns: larger numbers are refused up front.
RequestId = Path(ge=1, le=2**31 - 1)
ListLimit = Query(100, ge=1, le=100_000)


class SetPolicy(Acting):
    required_approvals: int = Field(default=1, ge=-(2**31), le=2**31 - 1)
    reviewer_role: str = "manager"
    allow_self_approval: bool = False
    # A gate is the entity itself ({"metric", "op", "threshold"}) or its text, "auc >= 0.9".
    gates: list[MetricGate | str] = []


class CreateRequest(Acting):
    version: int = Field(ge=1, le=2**31 - 1)
    alias: str
    comment: str = ""


class Review(Acting):
    decision: str
    comment: str = ""


class EditCard(Acting):
    # The store judges each section's text (and reads null as "remove"), naming the section.
    fields: dict[str, Any]
    comment: str = ""
    expected_revision: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)


# -- policies ----------------------------------------------------------------------------------


@router.get(MODEL + "/policies")
def list_policies(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return every approval policy of the model."""
    return entity(store.approvals.list_policies(caller.model(name, Role.VIEWER)))


@router.get(MODEL + "/policies/{alias}")
def get_policy(
    name: str,
    alias: str,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return `{"policy": ...}`: the alias's policy, or null when the alias is not guarded."""
    policy = store.approvals.get_policy(caller.model(name, Role.VIEWER), alias)
    return JSONResponse({"policy": to_dict(policy)})


@router.put(MODEL + "/policies/{alias}")
def set_policy(
    name: str,
    alias: str,
    body: SetPolicy,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create or replace the alias's policy (managers); returns it."""
    caller.model(name, Role.MANAGER)
    policy = store.approvals.set_policy(
        name,
        alias,
        required_approvals=body.required_approvals,
        reviewer_role=body.reviewer_role,
        allow_self_approval=body.allow_self_approval,
        gates=list(body.gates),
        username=acting_user(request, body.username),
    )
    return entity(policy)


@router.delete(MODEL + "/policies/{alias}")
def delete_policy(
    name: str,
    alias: str,
    request: Request,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Remove the alias's policy (managers), so the alias can be set directly again."""
    caller.model(name, Role.MANAGER)
    store.approvals.delete_policy(name, alias, username=acting_user(request, username))
    return JSONResponse({})


# -- requests and reviews ----------------------------------------------------------------------


@router.post(MODEL + "/approval-requests", status_code=201)
def create_request(
    name: str,
    body: CreateRequest,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Ask for the alias to point at a version (editors); returns the new PENDING request."""
    caller.model(name, Role.EDITOR)
    created = store.approvals.request(
        name,
        body.version,
        body.alias,
        comment=body.comment,
        username=acting_user(request, body.username),
    )
    return entity(created, status_code=201)


@router.get(MODEL + "/approval-requests")
def list_model_requests(
    name: str,
    status: str | None = None,
    limit: int = ListLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the model's approval requests, newest first, optionally in one status."""
    return entity(store.approvals.list_requests(caller.model(name, Role.VIEWER), status, limit))


@router.get(REQUESTS)
def list_requests(
    status: str | None = None,
    limit: int = ListLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return every model's approval requests (admins), newest first, optionally in one status."""
    caller.admin()
    return entity(store.approvals.list_requests(None, status, limit))


@router.get(REQUEST)
def get_request(request_id: int = RequestId, caller: Caller = Depends(caller_of)) -> JSONResponse:
    """Return one request with its reviews and what its policy still needs."""
    return entity(caller.approval_request(request_id, Role.VIEWER))


@router.post(REQUEST + "/reviews")
def review_request(
    body: Review,
    request: Request,
    request_id: int = RequestId,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record an approve or reject; returns the request (APPLIED once its policy holds).

    Seeing the model is enough to get here; the store checks the policy's reviewer role and
    that nobody approves their own request.
    """
    caller.approval_request(request_id, Role.VIEWER)
    reviewed = store.approvals.review(
        request_id,
        body.decision,
        comment=body.comment,
        username=acting_user(request, body.username),
    )
    return entity(reviewed)


@router.post(REQUEST + "/cancel")
def cancel_request(
    body: Acting,
    request: Request,
    request_id: int = RequestId,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Withdraw a pending request (its requester, checked by the store); returns it."""
    caller.approval_request(request_id, Role.VIEWER)
    return entity(store.approvals.cancel(request_id, username=acting_user(request, body.username)))


# -- model cards -------------------------------------------------------------------------------


@router.get(MODEL + "/card")
def get_card(
    name: str,
    revision: int | None = Query(None, ge=1, le=2**31 - 1),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return `{"card": ...}`: one revision (the newest by default), or null before any edit."""
    card = store.cards.get(caller.model(name, Role.VIEWER), revision)
    return JSONResponse({"card": to_dict(card)})


@router.patch(MODEL + "/card")
def edit_card(
    name: str,
    body: EditCard,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Save a new revision (editors): the previous fields updated with these (empty removes);
    returns it."""
    caller.model(name, Role.EDITOR)
    saved = store.cards.edit(
        name,
        body.fields,
        comment=body.comment,
        expected_revision=body.expected_revision,
        username=acting_user(request, body.username),
    )
    return entity(saved)


@router.get(MODEL + "/card/revisions")
def card_revisions(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return every revision of the model's card, oldest first."""
    return entity(store.cards.revisions(caller.model(name, Role.VIEWER)))


# -- per-model roles ---------------------------------------------------------------------------


class SetRole(Strict):
    # viewer, editor or manager; null removes the user's role on the model.
    role: str | None


@router.get(MODEL + "/roles")
def model_roles(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return `{"roles": {username: role}}`: the explicit roles on the model."""
    store.registry.get_registered_model(caller.model(name, Role.VIEWER))
    roles = store.access.model_roles(name)
    return JSONResponse({"roles": {user: str(role) for user, role in roles.items()}})


@router.put(MODEL + "/roles/{username}")
def set_model_role(
    name: str,
    username: str,
    body: SetRole,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Give a user a role on the model (managers of the model and admins only)."""
    store.registry.get_registered_model(caller.model(name, Role.MANAGER))
    store.access.set_model_role(name, username, body.role)
    return JSONResponse({})
