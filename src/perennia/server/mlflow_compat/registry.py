"""MLflow's model registry endpoints (`registered-models/*`, `model-versions/*`) over `store.registry`.

A thin adapter: every version, tag and alias lives in Perennia's own registry (with its event
log, approval guards and acting user), so `perennia.registry` sees what mlflow clients did.
MLflow's stages are not kept: a version reads as stage "None", or "Archived" once archived.
A version registered from a logged model keeps `models:/<model_id>` as its source; its run is
the logged model's source run, and its download URI is the logged model's artifact URI.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.entities import ModelVersion, RegisteredModel, Role
from perennia.errors import InvalidInput
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    Payload,
    args_of,
    json_scalar,
    key_values,
    text,
)
from perennia.server.mlflow_compat.shapes import (
    RUNS_URI,
    logged_model_uri,
    model_id_of,
    model_version_json,
    registered_model_json,
)
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import acting_user, grant_creator, store_of
from perennia.server.sources import vouch_for_source
from perennia.store.base import ServerStore, Store

router = APIRouter(prefix="/api/2.0/mlflow", include_in_schema=False, route_class=MlflowRoute)
MAX_RESULTS = 10_000
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # on a logged model: the versions made from it


def _description(body: dict[str, Any]) -> str | None:
    """Return the description to set, or None (unchanged) when the request sends none."""
    value = body.get("description")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'description' must be a string, got {type(value).__name__}")
    return value


def model_body(store: Store, model: RegisteredModel) -> dict[str, Any]:
    latest = None
    if model.latest_version is not None:
        latest = store.versions.get_model_version(model.name, model.latest_version)
    return {"registered_model": registered_model_json(model, latest)}


def _version_body(version: ModelVersion) -> JSONResponse:
    return JSONResponse({"model_version": model_version_json(version)})


def page_of(result: dict[str, Any], token: str | None) -> JSONResponse:
    if token:
        result["next_page_token"] = token
    return JSONResponse(result)


# -- registered models ------------------------------------------------------------------------


@router.post("/registered-models/create")
def create_registered_model(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the new registered model, owned (and managed) by the signed-in user."""
    name = text(body, "name")
    caller.signed_in(name)
    user = acting_user(request, None)
    model = store.registry.create_registered_model(
        name,
        text(body, "description", required=False) or "",
        key_values(body.get("tags"), "tags"),
        owner=user,
        username=user,
    )
    grant_creator(caller, store, model=model.name)
    return JSONResponse(model_body(store, model))


@router.get("/registered-models/get")
def get_registered_model(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return the registered model with its latest version and aliases."""
    name = caller.model(text(args_of(request, {}), "name"), Role.VIEWER)
    return JSONResponse(model_body(store, store.registry.get_registered_model(name)))


@router.patch("/registered-models/update")
def update_registered_model(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the registered model after changing its description (editors)."""
    name = caller.model(text(body, "name"), Role.EDITOR)
    model = store.registry.update_registered_model(
        name, description=_description(body), username=acting_user(request, None)
    )
    return JSONResponse(model_body(store, model))


@router.post("/registered-models/rename")
def rename_registered_model(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the registered model under its new name (managers)."""
    name = caller.model(text(body, "name"), Role.MANAGER)
    model = store.registry.rename_registered_model(
        name, text(body, "new_name"), username=acting_user(request, None)
    )
    return JSONResponse(model_body(store, model))


@router.delete("/registered-models/delete")
def delete_registered_model(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete the registered model with its versions, tags and aliases (managers)."""
    name = caller.model(text(args_of(request, body), "name"), Role.MANAGER)
    store.registry.delete_registered_model(name, acting_user(request, None))
    return JSONResponse({})


@router.api_route("/registered-models/get-latest-versions", methods=["GET", "POST"])
def get_latest_versions(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the newest version; every version is in stage "None" (stages are not kept)."""
    args = args_of(request, body)
    name = caller.model(text(args, "name"), Role.VIEWER)
    stages = body.get("stages") if "stages" in body else request.query_params.getlist("stages")
    stages = [stages] if isinstance(stages, str) else stages or []
    if not isinstance(stages, list):
        raise InvalidInput(f"'stages' must be a list of strings, got {type(stages).__name__}")
    model = store.registry.get_registered_model(name)
    wanted = not stages or any(str(s).lower() == "none" for s in stages)
    if model.latest_version is None or not wanted:
        return JSONResponse({"model_versions": []})
    latest = store.versions.get_model_version(name, model.latest_version)
    return JSONResponse({"model_versions": [model_version_json(latest)]})


@router.post("/registered-models/set-tag")
def set_registered_model_tag(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set one tag of the registered model (editors)."""
    name = caller.model(text(body, "name"), Role.EDITOR)
    store.registry.set_registered_model_tag(
        name, text(body, "key"), _tag_value(body), username=acting_user(request, None)
    )
    return JSONResponse({})


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one tag of the registered model (editors)."""
    args = args_of(request, body)
    name = caller.model(text(args, "name"), Role.EDITOR)
    store.registry.delete_registered_model_tag(
        name, text(args, "key"), username=acting_user(request, None)
    )
    return JSONResponse({})


@router.post("/registered-models/alias")
def set_alias(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Point the alias at the version (editors; an approval policy on the alias still applies)."""
    name = caller.model(text(body, "name"), Role.EDITOR)
    store.aliases.set_alias(
        name, text(body, "alias"), text(body, "version"), username=acting_user(request, None)
    )
    return JSONResponse({})


@router.delete("/registered-models/alias")
def delete_alias(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Remove the alias (editors)."""
    args = args_of(request, body)
    name = caller.model(text(args, "name"), Role.EDITOR)
    store.aliases.delete_alias(name, text(args, "alias"), acting_user(request, None))
    return JSONResponse({})


@router.get("/registered-models/alias")
def get_version_by_alias(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return the version the alias points at."""
    args = args_of(request, {})
    name = caller.model(text(args, "name"), Role.VIEWER)
    return _version_body(store.aliases.get_version_by_alias(name, text(args, "alias")))


# -- model versions ---------------------------------------------------------------------------


@router.post("/model-versions/create")
def create_model_version(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return a new READY version (editors); one from a logged model takes its source run.

    The source must be one the server vouches for, pointing at something the caller may read.
    """
    name, source = caller.model(text(body, "name"), Role.EDITOR), text(body, "source")
    run_id = text(body, "run_id", required=False)
    vouch_for_source(caller, store, source, run_id)
    model_id = text(body, "model_id", required=False) or model_id_of(source)
    if model_id is not None:
        logged = caller.logged_model(model_id, Role.VIEWER)
        if RUNS_URI.match(logged.artifact_location):  # its source run exists and holds its files
            run_id = run_id or logged.source_run_id
    if run_id is not None and not caller.is_admin:
        store.runs.get(run_id)  # NotFound before a version points at a run that is not there
    version = store.versions.create_model_version(
        name,
        source,
        run_id=run_id,
        description=text(body, "description", required=False) or "",
        tags=key_values(body.get("tags"), "tags"),
        username=acting_user(request, None),
    )
    if model_id is not None:
        _list_version_on(store, model_id, version)
    return _version_body(version)


def _list_version_on(store: ServerStore, model_id: str, version: ModelVersion) -> None:
    """Add the version to the logged model's `mlflow.modelVersions` tag, as MLflow's server does."""
    entry = {"name": version.name, "version": int(version.version)}
    try:
        listed = json.loads(store.logged_models.get(model_id).tags.get(MODEL_VERSIONS_TAG, "[]"))
    except ValueError:
        listed = []
    listed = listed if isinstance(listed, list) else []
    if entry not in listed:
        store.logged_models.set_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(listed + [entry])})


@router.get("/model-versions/get")
def get_model_version(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one version."""
    args = args_of(request, {})
    name = caller.model(text(args, "name"), Role.VIEWER)
    return _version_body(store.versions.get_model_version(name, text(args, "version")))


@router.patch("/model-versions/update")
def update_model_version(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the version after changing its description (editors)."""
    name = caller.model(text(body, "name"), Role.EDITOR)
    version = store.versions.update_model_version(
        name,
        text(body, "version"),
        description=_description(body),
        username=acting_user(request, None),
    )
    return _version_body(version)


@router.delete("/model-versions/delete")
def delete_model_version(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one version with its tags and aliases (editors)."""
    args = args_of(request, body)
    name = caller.model(text(args, "name"), Role.EDITOR)
    store.versions.delete_model_version(
        name, text(args, "version"), username=acting_user(request, None)
    )
    return JSONResponse({})


@router.get("/model-versions/get-download-uri")
def get_download_uri(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return where the version's files are, as a URI the mlflow client downloads through."""
    args = args_of(request, {})
    name = caller.model(text(args, "name"), Role.VIEWER)
    version = store.versions.get_model_version(name, text(args, "version"))
    return JSONResponse({"artifact_uri": download_uri(store, version.source)})


def download_uri(store: ServerStore, source: str) -> str:
    """Return the artifact-proxy URI of a version's source (the source itself when foreign)."""
    model_id = model_id_of(source)
    if model_id is not None:
        return logged_model_uri(store.logged_models.get(model_id))
    match = RUNS_URI.match(source)
    if match is not None:
        run = store.runs.get(match.group(1))
        return f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts/{match.group(2)}"
    return source


@router.post("/model-versions/set-tag")
def set_model_version_tag(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set one tag of the version (editors)."""
    name = caller.model(text(body, "name"), Role.EDITOR)
    store.versions.set_model_version_tag(
        name,
        text(body, "version"),
        text(body, "key"),
        _tag_value(body),
        username=acting_user(request, None),
    )
    return JSONResponse({})


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one tag of the version (editors)."""
    args = args_of(request, body)
    name = caller.model(text(args, "name"), Role.EDITOR)
    store.versions.delete_model_version_tag(
        name, text(args, "version"), text(args, "key"), username=acting_user(request, None)
    )
    return JSONResponse({})


@router.post("/model-versions/transition-stage")
def transition_stage(body: dict = Payload, caller: Caller = Depends(caller_of)) -> JSONResponse:
    """Refuse: MLflow deprecated stages and Perennia does not keep them; aliases replace them."""
    caller.signed_in()
    raise InvalidInput(
        f"stages are not supported (MLflow deprecated them); point an alias such as "
        f"'champion' at version {body.get('version')!r:.20} of {body.get('name')!r:.80} instead"
    )


def _tag_value(body: dict[str, Any]) -> str:
    value = body.get("value", "")
    if not isinstance(value, str | int | float):
        raise InvalidInput(f"'value' must be text, got {type(value).__name__}")
    return value if isinstance(value, str) else json_scalar(value)
