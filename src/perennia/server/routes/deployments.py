"""/api/v1/deployments: stored deployments of registered models, changed by compare-and-set.

Access follows the deployment's registered model: reading needs viewer on it, creating and
changing need editor, and a listing shows only deployments of models the caller may read.
Who acted is the signed-in user; only with sign-in off does the server record the `username`
a client names, as the embedded store would.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.entities import Role
from perennia.entities.deployment import Deployment
from perennia.errors import InvalidInput, NotFound, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import acting_user, entity, store_of
from perennia.server.routes.registry import Acting, EventLimit
from perennia.store.base import ServerStore

router = APIRouter(tags=["deployments"])

DEPLOYMENTS = "/api/v1/deployments"
DEPLOYMENT = DEPLOYMENTS + "/{name}"

# The body carries the entity itself, as `Deployment.to_dict` writes it: pydantic checks each
# field's type (refusing unknown fields, nested ones included, under `Strict`), and the store
# checks the values (`check_deployment`). The entity's required fields are required here too
# (`revision` among them), but the store sets the revision, creator and times itself, so the
# values sent for those are ignored.


class CreateDeployment(Acting):
    deployment: Deployment


class UpdateDeployment(Acting):
    deployment: Deployment
    expected_revision: int
    action: str
    detail: dict[str, Any] = {}


@router.post(DEPLOYMENTS, status_code=201)
def create_deployment(
    body: CreateDeployment,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create a deployment of a model the caller edits; returns it at revision 1 (409 if taken)."""
    wanted = body.deployment
    caller.model(wanted.model_name, Role.EDITOR)
    created = store.deployments.create(wanted, acting_user(request, body.username))
    caller.created(created.name)
    return entity(created, status_code=201)


@router.get(DEPLOYMENTS)
def list_deployments(
    model_name: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the deployments of models the caller may read (of one model, when given)."""
    if model_name is not None:
        caller.model(model_name, Role.VIEWER)
    else:
        caller.listing()
    found = store.deployments.list(model_name)
    if caller.reader is not None:
        readable = {m for m in {d.model_name for d in found} if _readable(caller, store, m)}
        found = [d for d in found if d.model_name in readable]
    return entity({"deployments": found})


def _ask(caller: Caller, store: ServerStore, model_name: str, need: Role) -> None:
    """Raise PermissionDenied unless the caller holds `need` on the deployment's model.

    `caller.model` lets a missing model pass (the route's own lookup answers 404), but here
    the deployment exists and its model is gone (deleted under it): only administrators
    may still reach it, or anyone could read it.
    """
    if not caller.is_admin:
        try:
            store.registry.get_registered_model(model_name)
        except NotFound:
            raise PermissionDenied(
                f"the registered model {model_name!r} this deployment served no longer exists; "
                "only administrators may reach the deployment"
            ) from None
    caller.model(model_name, need)


def _readable(caller: Caller, store: ServerStore, model_name: str) -> bool:
    try:
        _ask(caller, store, model_name, Role.VIEWER)
    except PermissionDenied:
        return False
    return True


@router.get(DEPLOYMENT)
def get_deployment(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one deployment (viewers of its model)."""
    found = store.deployments.get(name)
    _ask(caller, store, found.model_name, Role.VIEWER)
    return entity(found)


@router.put(DEPLOYMENT)
def update_deployment(
    name: str,
    body: UpdateDeployment,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Replace the deployment if still at `expected_revision` (editors); 409 if it moved on."""
    wanted = body.deployment
    if wanted.name != name:
        raise InvalidInput(f"the body names deployment {wanted.name!r}, the path {name!r}")
    _ask(caller, store, store.deployments.get(name).model_name, Role.EDITOR)
    updated = store.deployments.update(
        wanted,
        expected_revision=body.expected_revision,
        action=body.action,
        detail=body.detail,
        username=acting_user(request, body.username),
    )
    return entity(updated)


@router.delete(DEPLOYMENT)
def delete_deployment(
    name: str,
    request: Request,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete a deployment (editors of its model; its events stay in the log)."""
    _ask(caller, store, store.deployments.get(name).model_name, Role.EDITOR)
    store.deployments.delete(name, acting_user(request, username))
    return JSONResponse({})


@router.get(DEPLOYMENT + "/events")
def deployment_events(
    name: str,
    limit: int = EventLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the deployment's registry events, newest first (viewers of its model).

    A deleted deployment's history stays readable by viewers of the model it served.
    """
    events = store.deployments.events(name, limit)
    models = {e.model_name for e in events} or {store.deployments.get(name).model_name}
    for model in sorted(models):
        _ask(caller, store, model, Role.VIEWER)
    return entity(events)
