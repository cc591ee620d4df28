"""/api/v1/datasets: registered dataset versions (numbers, tags, aliases, contracts, lineage).

The dataset's name is always the path segment right after `/api/v1/datasets/`. Access is
server-wide (`Caller.dataset`): any signed-in user reads; registering, tagging, aliasing and
setting a contract need editor as the server's default role, or an administrator. Who acted is
the signed-in user; only with sign-in off does the server record the `username` a client names,
as the embedded store would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from perennia.entities import DatasetVersion, Role
from perennia.errors import InvalidInput, NotFound, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import acting_user, entity, json_object, store_of
from perennia.server.routes.registry import Acting, EventLimit, SetTag, VersionNumber
from perennia.store.base import ServerStore
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS

router = APIRouter(tags=["datasets"])

DATASETS = "/api/v1/datasets"
DATASET = DATASETS + "/{name}"
VERSIONS = DATASET + "/versions"
VERSION = VERSIONS + "/{version}"
ALIAS = DATASET + "/aliases/{alias}"
# Version numbers and event limits are the registry's; a page of datasets is a run search's.
PageSize = Query(DEFAULT_SEARCH_MAX_RESULTS, ge=1, le=MAX_SEARCH_RESULTS)
_FIELDS = frozenset(f.name for f in dataclasses.fields(DatasetVersion))


async def _known_fields(request: Request) -> None:
    """Refuse a version body naming a field DatasetVersion does not have (a misspelling)."""
    unknown = sorted(set(await json_object(request)) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r:.80} in the dataset version; its fields are "
            f"{', '.join(sorted(_FIELDS))}"
        )


class DatasetAlias(Acting):
    version: int


class DatasetContract(Acting):
    contract: dict[str, Any]


@router.post(VERSIONS, status_code=201, dependencies=[Depends(_known_fields)])
def create_dataset_version(
    name: str,
    request: Request,
    draft: DatasetVersion = Body(),
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Register the body (a DatasetVersion) as the name's next version; returns it as stored."""
    caller.dataset(name, Role.EDITOR)
    if draft.name != name:
        raise InvalidInput(f"the body names dataset {draft.name!r:.80}, the path {name!r:.80}")
    created = store.datasets.create_version(draft, acting_user(request, username))
    caller.created(created.ref)
    return entity(created, status_code=201)


@router.get(DATASETS)
def list_datasets(
    max_results: int = PageSize,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the latest version of every dataset, by name (any signed-in user)."""
    caller.signed_in()
    return entity({"datasets": store.datasets.list_datasets(max_results)})


@router.get(VERSIONS)
def dataset_versions(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return every version of the dataset, newest first."""
    return entity({"versions": store.datasets.versions(caller.dataset(name, Role.VIEWER))})


@router.get(VERSION)
def get_dataset_version(
    name: str,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one version of the dataset."""
    return entity(store.datasets.get_version(caller.dataset(name, Role.VIEWER), version))


@router.get(DATASET + "/resolve")
def resolve_dataset(
    name: str,
    ref: str,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the version `ref` names: a number, `latest` or an alias."""
    return entity(store.datasets.resolve(caller.dataset(name, Role.VIEWER), ref))


@router.post(VERSION + "/tags")
def set_dataset_tag(
    name: str,
    body: SetTag,
    request: Request,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set a tag on one version."""
    caller.dataset(name, Role.EDITOR)
    who = acting_user(request, body.username)
    store.datasets.set_tag(name, version, body.key, body.value, who)
    return JSONResponse({})


@router.delete(VERSION + "/tags")
def delete_dataset_tag(
    name: str,
    key: str,
    request: Request,
    version: int = VersionNumber,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Remove a tag from one version (404 if it is not set)."""
    caller.dataset(name, Role.EDITOR)
    store.datasets.delete_tag(name, version, key, acting_user(request, username))
    return JSONResponse({})


@router.put(ALIAS)
def set_dataset_alias(
    name: str,
    alias: str,
    body: DatasetAlias,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Point the alias at a version, moving it if it pointed elsewhere."""
    caller.dataset(name, Role.EDITOR)
    store.datasets.set_alias(name, alias, body.version, acting_user(request, body.username))
    return JSONResponse({})


@router.delete(ALIAS)
def delete_dataset_alias(
    name: str,
    alias: str,
    request: Request,
    username: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Remove the alias (404 if it is not set)."""
    caller.dataset(name, Role.EDITOR)
    store.datasets.delete_alias(name, alias, acting_user(request, username))
    return JSONResponse({})


@router.put(VERSION + "/contract")
def set_dataset_contract(
    name: str,
    body: DatasetContract,
    request: Request,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Attach a validation contract (a `Contract.to_dict()`) to one version."""
    caller.dataset(name, Role.EDITOR)
    store.datasets.set_contract(name, version, body.contract, acting_user(request, body.username))
    return JSONResponse({})


@router.get(VERSION + "/derived")
def derived_from_dataset(
    name: str,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the versions that list this one among their parents."""
    found = store.datasets.derived_from(caller.dataset(name, Role.VIEWER), version)
    return entity({"versions": found})


@router.get(VERSION + "/readers")
def dataset_readers(
    name: str,
    version: int = VersionNumber,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the runs that read this version and how, among the runs the caller may read."""
    found = store.datasets.readers(caller.dataset(name, Role.VIEWER), version)
    if not caller.is_admin:
        found = [pair for pair in found if _may_read_run(caller, pair[0])]
    return JSONResponse({"readers": [{"run_id": r, "context": c} for r, c in found]})


def _may_read_run(caller: Caller, run_id: str) -> bool:
    """Return whether the caller may read the run (a reader list never names hidden runs)."""
    try:
        caller.run(run_id, Role.VIEWER)
    except (PermissionDenied, NotFound):  # hidden, or purged since the store answered
        return False
    return True


@router.get(DATASET + "/events")
def dataset_events(
    name: str,
    limit: int = EventLimit,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the dataset's events, newest first."""
    return entity({"events": store.datasets.events(caller.dataset(name, Role.VIEWER), limit)})
