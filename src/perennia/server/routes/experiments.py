"""/api/v1/experiments: create, find, rename, tag, trash, restore and purge experiments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from perennia.entities import ViewType
from perennia.errors import PermissionDenied
from perennia.server.routes.common import entity, store_of
from perennia.server.schemas import CreateExperiment, Cutoff, KeyValue, RenameExperiment
from perennia.store.base import DEFAULT_SEARCH_MAX_RESULTS, Store

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


def check_artifact_location(request: Request, location: str | None) -> None:
    """Refuse a client-chosen artifact location outside the server's own artifact root.

    Where the server writes bytes must never be up to the caller (MLflow's CVE-2023-6018 class:
    arbitrary file write; and SSRF through remote URIs). Administrators may choose freely.
    """
    if location is None:
        return
    default = request.app.state.artifacts.default_location
    user = getattr(request.state, "user", None)
    if location == default or (user is not None and user.is_admin):
        return
    raise PermissionDenied(
        f"artifact_location {location[:80]!r} is chosen by the server; omit it "
        "(only an administrator may set another location)"
    )


@router.post("", status_code=201)
def create_experiment(
    body: CreateExperiment, request: Request, store: Store = Depends(store_of)
) -> JSONResponse:
    """Create an experiment; returns its id. Its artifacts live where the server keeps them."""
    check_artifact_location(request, body.artifact_location)
    eid = store.experiments.create(body.name, body.artifact_location, body.tags)
    return JSONResponse({"experiment_id": eid}, status_code=201)


@router.get("")
def search_experiments(
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    name_like: str | None = None,
    page_token: str | None = None,
    store: Store = Depends(store_of),
) -> JSONResponse:
    """Return a page of experiments."""
    return entity(store.experiments.search(view_type, max_results, name_like, page_token))


@router.get("/by-name")
def get_experiment_by_name(
    name: str = Query(...), store: Store = Depends(store_of)
) -> JSONResponse:
    """Return the experiment with this name (404 when there is none)."""
    found = store.experiments.get_by_name(name)
    if found is None:
        from perennia.errors import NotFound

        raise NotFound(f"experiment {name!r} does not exist")
    return entity(found)


@router.post("/purge")
def purge_experiments(body: Cutoff, store: Store = Depends(store_of)) -> JSONResponse:
    """Permanently remove experiments trashed before the cutoff; returns how many."""
    return JSONResponse({"purged": store.experiments.purge_deleted(body.older_than_ms)})


@router.get("/{experiment_id}")
def get_experiment(experiment_id: str, store: Store = Depends(store_of)) -> JSONResponse:
    """Return one experiment."""
    return entity(store.experiments.get(experiment_id))


@router.patch("/{experiment_id}")
def rename_experiment(
    experiment_id: str, body: RenameExperiment, store: Store = Depends(store_of)
) -> JSONResponse:
    """Rename an experiment; returns it."""
    store.experiments.rename(experiment_id, body.name)
    return entity(store.experiments.get(experiment_id))


@router.delete("/{experiment_id}")
def delete_experiment(experiment_id: str, store: Store = Depends(store_of)) -> JSONResponse:
    """Move an experiment and its runs to the trash."""
    store.experiments.delete(experiment_id)
    return JSONResponse({})


@router.post("/{experiment_id}/restore")
def restore_experiment(experiment_id: str, store: Store = Depends(store_of)) -> JSONResponse:
    """Take an experiment and the runs trashed with it out of the trash."""
    store.experiments.restore(experiment_id)
    return JSONResponse({})


@router.post("/{experiment_id}/tags")
def set_experiment_tag(
    experiment_id: str, body: KeyValue, store: Store = Depends(store_of)
) -> JSONResponse:
    """Set one experiment tag."""
    store.experiments.set_tag(experiment_id, body.key, body.value)
    return JSONResponse({})
