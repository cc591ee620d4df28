"""/api/v1/registered-models: the model registry (models, versions, tags, aliases, events).

The registered model's name is always the path segment right after `/api/v1/registered-models/`
(the access layer reads it there). Who acted is the signed-in user; only when sign-in is off
does the server record the `username` a client names, as the embedded store would.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from perennia.entities import Role, VersionStatus
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import acting_user, entity, grant_creator, order_pairs, store_of
from perennia.server.schemas import Strict
from perennia.server.sources import vouch_for_source
from perennia.store.base import ServerStore
from perennia.store.registry_checks import ANY

router = APIRouter(tags=["registry"])

MODELS = "/api/v1/registered-models"
MODEL = MODELS + "/{name}"
VERSION = MODEL + "/versions/{version}"
# Version numbers and event limits fit the 32-bit INTEGER columns and the store's own caps.
VersionNumber = Path(ge=1, le=2**31 - 1)
PageSize = Query(100, ge=1, le=10_000)
EventLimit = Query(100, ge=1, le=100_000)


class Acting(Strict):
    # Ignored while sign-in is on: then the signed-in user is who acted.
    username: str | None = None


class CreateModel(Acting):
    name: str
    description: str = ""
    tags: dict[str, str] = {}
    owner: str | None = None


class UpdateModel(Acting):
    description: str | None = None
    owner: str | None = None


class RenameModel(Acting):
    new_name: str


class SetTag(Acting):
    key: str
    value: str


class CreateVersion(Acting):
    source: str
    run_id: str | None = None
    digest: str | None = None
    description: str = ""
    tags: dict[str, str] = {}
    status: VersionStatus = VersionStatus.READY


class UpdateVersion(Acting):
    description: str | None = None
    status: VersionStatus | None = None
    status_message: str | None = None
    state: str | None = None


class SetAlias(Acting):
    """Omit `expected_version` for an unconditional move; null means "the alias must not exist"."""

    version: int = Field(ge=1, le=2**31 - 1)
    expected_version: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    # Only the moves a caller may ask for; moves applied by approvals happen inside the server.


# -- registered models -------------------------------------------------------------------------


@router.post(MODELS, status_code=201)
def create_registered_model(
    body: CreateModel,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create a registered model its creator manages; returns it (409 when the name is taken)."""
    caller.signed_in(body.name)
    model = store.registry.create_registered_model(
        body.name,
        body.description,
        body.tags,
        body.owner,
        username=acting_user(request, body.username),
    )
    grant_creator(caller, store, model=model.name)
    return entity(model, status_code=201)


@router.get(MODELS)
def search_registered_models(
    request: Request,
    name_like: str | None = None,
    max_results: int = PageSize,
    page_token: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return a page of the registered models the caller may read, by name, optionally
    matching a LIKE pattern."""
    reader = caller.listing()
    return entity(
        store.registry.search_registered_models(name_like, max_results, page_token, reader)
    )


@router.get(MODEL)
def get_registered_model(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one registered model with its tags, aliases and latest version."""
    return entity(store.registry.get_registered_model(caller.model(name, Role.VIEWER)))


@router.patch(MODEL)
def update_registered_model(
    name: str,
    body: UpdateModel,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Change a model's description (editors) and/or owner (managers); returns the model."""
    caller.model(name, Role.EDITOR if body.owner is None else Role.MANAGER)
    model = store.registry.update_registered_model(
        name, body.description, body.owner, username=acting_user(request, body.username)
    )
    return entity(model)


@router.post(MODEL + "/rename")
def rename_registered_model(
    name: str,
    body: RenameModel,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Give a model a new unique name (managers; versions, tags and aliases follow); returns it."""
    caller.model(name, Role.MANAGER)
    model = store.registry.rename_registered_model(
        name, body.new_name, username=acting_user(request, body.username)
    )
    return entity(model)


@router.delete(MODEL)
def delete_registered_model(
    name: str,
    request: Request,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete a model with its versions, tags and aliases (managers; its events stay)."""
    caller.model(name, Role.MANAGER)
    store.registry.delete_registered_model(name, username=acting_user(request, username))
    return JSONResponse({})


@router.post(MODEL + "/tags")
def set_registered_model_tag(
    name: str,
    body: SetTag,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set (or replace) one tag of a model (editors)."""
    caller.model(name, Role.EDITOR)
    store.registry.set_registered_model_tag(
        name, body.key, body.value, username=acting_user(request, body.username)
    )
    return JSONResponse({})


@router.delete(MODEL + "/tags")
def delete_registered_model_tag(
    name: str,
    request: Request,
    key: str = Query(...),
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one tag of a model (editors; 404 when it has no such tag)."""
    caller.model(name, Role.EDITOR)
    store.registry.delete_registered_model_tag(name, key, username=acting_user(request, username))
    return JSONResponse({})


# -- versions ----------------------------------------------------------------------------------


@router.post(MODEL + "/versions", status_code=201)
def create_model_version(
    name: str,
    body: CreateVersion,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Register a new version (editors), numbered one past the model's last; returns it.

    The source must be one the server vouches for, pointing at something the caller may read.
    """
    caller.model(name, Role.EDITOR)
    vouch_for_source(caller, store, body.source, body.run_id)
    created = store.versions.create_model_version(
        name,
        body.source,
        run_id=body.run_id,
        digest=body.digest,
        description=body.description,
        tags=body.tags,
        status=body.status.value,
        username=acting_user(request, body.username),
    )
    return entity(created, status_code=201)


@router.get(MODEL + "/versions")
def search_model_versions_of(
    name: str,
    run_id: str | None = None,
    max_results: int = PageSize,
    page_token: str | None = None,
    order_by: list[str] | None = Query(None),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return a page of the model's versions, newest first (or by `order_by`, `-` for
    descending), optionally from one run."""
    caller.model(name, Role.VIEWER)
    order = order_pairs(order_by)
    return entity(
        store.versions.search_model_versions(name, run_id, max_results, page_token, order_by=order)
    )


@router.get("/api/v1/model-versions")
def search_model_versions(
    run_id: str | None = None,
    max_results: int = PageSize,
    page_token: str | None = None,
    name_like: str | None = None,
    order_by: list[str] | None = Query(None),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return a page of versions of every model the caller may read, optionally those a run
    produced or of models whose names match `name_like`, ordered by `order_by`."""
    reader = caller.listing()
    page = store.versions.search_model_versions(
        None,
        run_id,
        max_results,
        page_token,
        reader,
        name_like=name_like,
        order_by=order_pairs(order_by),
    )
    return entity(page)


@router.get(MODEL + "/versions/latest")
def get_latest_version(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return the model's highest-numbered version."""
    return entity(store.versions.get_latest_version(caller.model(name, Role.VIEWER)))


@router.get(VERSION)
def get_model_version(
    name: str,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one version of a model."""
    return entity(store.versions.get_model_version(caller.model(name, Role.VIEWER), version))


@router.patch(VERSION)
def update_model_version(
    name: str,
    body: UpdateVersion,
    request: Request,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Change a version's description, status or state (editors); returns the version."""
    caller.model(name, Role.EDITOR)
    updated = store.versions.update_model_version(
        name,
        version,
        description=body.description,
        status=body.status.value if body.status is not None else None,
        status_message=body.status_message,
        state=body.state,
        username=acting_user(request, body.username),
    )
    return entity(updated)


@router.delete(VERSION)
def delete_model_version(
    name: str,
    request: Request,
    version: int = VersionNumber,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete a version with its tags and the aliases pointing at it (editors)."""
    caller.model(name, Role.EDITOR)
    store.versions.delete_model_version(name, version, username=acting_user(request, username))
    return JSONResponse({})


@router.post(VERSION + "/tags")
def set_model_version_tag(
    name: str,
    body: SetTag,
    request: Request,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set (or replace) one tag of a version (editors)."""
    caller.model(name, Role.EDITOR)
    store.versions.set_model_version_tag(
        name, version, body.key, body.value, username=acting_user(request, body.username)
    )
    return JSONResponse({})


@router.delete(VERSION + "/tags")
def delete_model_version_tag(
    name: str,
    request: Request,
    version: int = VersionNumber,
    key: str = Query(...),
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one tag of a version (editors; 404 when it has no such tag)."""
    caller.model(name, Role.EDITOR)
    store.versions.delete_model_version_tag(
        name, version, key, username=acting_user(request, username)
    )
    return JSONResponse({})


# -- aliases and events ------------------------------------------------------------------------


@router.get(MODEL + "/aliases/{alias}")
def get_version_by_alias(
    name: str,
    alias: str,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the version the alias points at."""
    return entity(store.aliases.get_version_by_alias(caller.model(name, Role.VIEWER), alias))


@router.put(MODEL + "/aliases/{alias}")
def set_alias(
    name: str,
    alias: str,
    body: SetAlias,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Point the alias at a version (editors); returns where it pointed before (null when new)."""
    caller.model(name, Role.EDITOR)
    expected = body.expected_version if "expected_version" in body.model_fields_set else ANY
    previous = store.aliases.set_alias(
        name,
        alias,
        body.version,
        expected_version=expected,
        username=acting_user(request, body.username),
    )
    return JSONResponse({"previous_version": previous})


@router.post(MODEL + "/aliases/{alias}/rollback")
def rollback_alias(
    name: str,
    alias: str,
    body: Acting,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Move the alias back one step of its history (managers); returns the version it holds now."""
    caller.model(name, Role.MANAGER)
    version = store.aliases.rollback_alias(
        name, alias, username=acting_user(request, body.username)
    )
    return entity(version)


@router.delete(MODEL + "/aliases/{alias}")
def delete_alias(
    name: str,
    alias: str,
    request: Request,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Remove the alias (editors; 404 when the model has no such alias)."""
    caller.model(name, Role.EDITOR)
    store.aliases.delete_alias(name, alias, username=acting_user(request, username))
    return JSONResponse({})


@router.get(MODEL + "/events")
def model_events(
    name: str,
    limit: int = EventLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the model's registry events, newest first."""
    return entity(store.registry.events(caller.model(name, Role.VIEWER), limit))


@router.get("/api/v1/registry-events")
def registry_events(
    limit: int = EventLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return every model's registry events, newest first (admins)."""
    caller.admin()
    return entity(store.registry.events(None, limit))
