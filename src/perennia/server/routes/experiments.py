"""/api/v1/experiments: create, find, rename, tag, trash, restore and purge experiments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from perennia.entities import Role, ViewType
from perennia.errors import NotFound, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import entity, grant_creator, order_pairs, store_of
from perennia.server.schemas import CreateExperiment, KeyValue, PurgeCutoff, RenameExperiment
from perennia.store.base import DEFAULT_SEARCH_MAX_RESULTS, ServerStore

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


def check_artifact_location(request: Request, caller: Caller, location: str | None) -> None:
    """Refuse a client-chosen artifact location outside the server's own artifact root.

    Where the server writes bytes must never be up to the caller (MLflow's CVE-2023-6018 class:
    arbitrary file write; and SSRF through remote URIs). Administrators may choose freely.
    """
    if location is None:
        return
    signed_in_admin = caller.user is not None and caller.user.is_admin
    if location == request.app.state.artifacts.default_location or signed_in_admin:
        return
    raise PermissionDenied(
        f"artifact_location {location[:80]!r} is chosen by the server; omit it "
        "(only an administrator may set another location)"
    )


@router.post("", status_code=201)
def create_experiment(
    body: CreateExperiment,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create an experiment its creator manages; returns its id. Its artifacts live where the
    server keeps them."""
    caller.signed_in(body.name)
    check_artifact_location(request, caller, body.artifact_location)
    eid = store.experiments.create(body.name, body.artifact_location, body.tags)
    grant_creator(caller, store, experiment_id=eid)
    return JSONResponse({"experiment_id": eid}, status_code=201)


@router.get("")
def search_experiments(
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    name_like: str | None = None,
    page_token: str | None = None,
    order_by: list[str] | None = Query(None),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return a page of the experiments the caller may read, by id or by `order_by` fields
    (`-` for descending)."""
    reader = caller.listing()
    page = store.experiments.search(
        view_type, max_results, name_like, page_token, reader, order_by=order_pairs(order_by)
    )
    return entity(page)


@router.get("/by-name")
def get_experiment_by_name(
    name: str = Query(...),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the experiment with this name (404 when there is none)."""
    found = store.experiments.get_by_name(name)
    if found is None:
        caller.signed_in()
        raise NotFound(f"experiment {name!r} does not exist")
    caller.experiment(found.experiment_id, Role.VIEWER)
    return entity(found)


@router.get("/dataset-summaries")
def dataset_summaries(
    experiment_ids: list[str] = Query(...),
    max_results: int = 1000,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the datasets the experiments' runs consumed, one per context (viewers of each)."""
    ids = caller.experiments(experiment_ids, Role.VIEWER)
    return entity(store.inputs.summaries(ids, max_results))


@router.post("/purge")
def purge_experiments(
    body: PurgeCutoff,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Permanently remove experiments trashed before the cutoff; returns how many."""
    caller.admin()
    purged = store.experiments.purge_deleted(body.older_than_ms, dry_run=body.dry_run)
    return JSONResponse({"purged": purged})


@router.get("/{experiment_id}")
def get_experiment(
    experiment_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one experiment."""
    return entity(store.experiments.get(caller.experiment(experiment_id, Role.VIEWER)))


@router.patch("/{experiment_id}")
def rename_experiment(
    experiment_id: str,
    body: RenameExperiment,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Rename an experiment (managers); returns it."""
    eid = caller.experiment(experiment_id, Role.MANAGER)
    store.experiments.rename(eid, body.name)
    return entity(store.experiments.get(eid))


@router.delete("/{experiment_id}")
def delete_experiment(
    experiment_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Move an experiment and its runs to the trash (managers)."""
    store.experiments.delete(caller.experiment(experiment_id, Role.MANAGER))
    return JSONResponse({})


@router.post("/{experiment_id}/restore")
def restore_experiment(
    experiment_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Take an experiment and the runs trashed with it out of the trash (managers)."""
    store.experiments.restore(caller.experiment(experiment_id, Role.MANAGER))
    return JSONResponse({})


@router.post("/{experiment_id}/tags")
def set_experiment_tag(
    experiment_id: str,
    body: KeyValue,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set one experiment tag (editors)."""
    store.experiments.set_tag(caller.experiment(experiment_id, Role.EDITOR), body.key, body.value)
    return JSONResponse({})


@router.delete("/{experiment_id}/tags")
def delete_experiment_tag(
    experiment_id: str,
    key: str,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one experiment tag (editors)."""
    store.experiments.delete_tag(caller.experiment(experiment_id, Role.EDITOR), key)
    return JSONResponse({})
