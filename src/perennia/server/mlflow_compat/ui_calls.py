"""Calls MLflow's web pages make: the downloads `GET /get-artifact?run_id=&path=` and
`GET /model-versions/get-artifact?name=&version=&path=`, and the dataset summaries of
experiments (`POST /ajax-api/2.0/mlflow/experiments/search-datasets`).

Both serve one file through the artifact proxy's own download (artifacts.py), so they carry the
same access checks (the run must be readable; a version's files also need the model readable),
the same digest check, and the same headers: a type guessed from the file name, a file name, and
`X-Content-Type-Options: nosniff`. A path that is not a safe relative artifact path answers 400
"Invalid path" before anything is looked up, as MLflow's server does. Dataset summaries need
the viewer role in every experiment named.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from perennia.entities import Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import Payload, ids, text
from perennia.server.mlflow_compat.artifacts import download_artifact
from perennia.server.mlflow_compat.lookups import run_of
from perennia.server.mlflow_compat.registry import download_uri
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import store_of
from perennia.store.artifact_paths import validate_artifact_path
from perennia.store.base import ServerStore

router = APIRouter(include_in_schema=False, route_class=MlflowRoute)
_PROXIED = "mlflow-artifacts:/"


def _file_path(request: Request) -> str:
    """Return the requested file's path, or raise MLflow's 400 "Invalid path"."""
    try:
        return validate_artifact_path(request.query_params.get("path", ""))
    except InvalidInput:
        raise InvalidInput("Invalid path") from None


@router.get("/get-artifact")
def get_run_artifact(request: Request, caller: Caller = Depends(caller_of)) -> Response:
    """Return one file of a run the caller may read."""
    path = _file_path(request)
    run_id = run_of(caller, text(dict(request.query_params), "run_id"), Role.VIEWER)
    run = request.app.state.artifacts.store.runs.get(run_id)
    return download_artifact(request, f"{run.info.experiment_id}/{run_id}/artifacts/{path}", caller)


@router.get("/model-versions/get-artifact")
def get_model_version_artifact(request: Request, caller: Caller = Depends(caller_of)) -> Response:
    """Return one file of a model version, once the caller may read the model and its files."""
    path = _file_path(request)
    args = dict(request.query_params)
    name = caller.model(text(args, "name"), Role.VIEWER)
    store = request.app.state.artifacts.store
    version = store.versions.get_model_version(name, text(args, "version"))
    uri = download_uri(store, version.source)
    if not uri.startswith(_PROXIED):
        raise NotFound(
            f"version {version.version} of {name!r} has its files at {uri!r:.120}, "
            "outside this server's artifact store"
        )
    return download_artifact(request, f"{uri[len(_PROXIED) :].strip('/')}/{path}", caller)


@router.post("/ajax-api/2.0/mlflow/experiments/search-datasets")
@router.post("/api/2.0/mlflow/experiments/search-datasets")
def search_datasets(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the datasets the experiments' runs consumed, one entry per context."""
    experiment_ids = ids(body, "experiment_ids")
    if not experiment_ids:
        raise InvalidInput("'experiment_ids' must list at least one experiment id")
    found = store.inputs.summaries(caller.experiments(experiment_ids, Role.VIEWER))
    summaries = []
    for item in found:
        entry = {"experiment_id": item.experiment_id, "name": item.name, "digest": item.digest}
        if item.context:
            entry["context"] = item.context
        summaries.append(entry)
    return JSONResponse({"dataset_summaries": summaries})
