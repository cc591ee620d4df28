"""MLflow 3's logged-model endpoints (`/api/2.0/mlflow/logged-models/...`) over `store.logged_models`.

`mlflow.<flavor>.log_model` creates a logged model, links it to its run (`runs/outputs`),
uploads its files through the artifact proxy and finalizes it; `register_model` then points a
registry version at `models:/<model_id>`. Also here: `/api/3.0/mlflow/server-info`, the
capability probe MLflow 3 clients make before transferring artifacts.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.entities import Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    Payload,
    ids,
    key_values,
    max_results,
    objects,
    page_token,
    parse_filter,
    text,
)
from perennia.server.mlflow_compat.shapes import logged_model_json
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import store_of
from perennia.store.base import ServerStore

# No router prefix: server-info lives under /api/3.0, everything else under /api/2.0/mlflow.
router = APIRouter(include_in_schema=False, route_class=MlflowRoute)
API = "/api/2.0/mlflow"
MAX_SEARCH_RESULTS = 1000
_FILTERABLE = {"name": {"="}, "source_run_id": {"="}}
_FINAL_STATUS = {
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
    "2": "READY",
    "3": "FAILED",
}


def _check_order(order_by: Any) -> None:
    for item in order_by or []:
        field = item.get("field_name") if isinstance(item, dict) else None
        if field not in ("creation_timestamp", "creation_time") or item.get("ascending", True):
            raise InvalidInput(
                f"order_by {item!r:.80} is not supported; logged models are listed newest "
                "first (creation_timestamp descending)"
            )


def _model(caller: Caller, model_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
    model = caller.logged_model(model_id, Role.VIEWER)
    if model.lifecycle_stage != "active" and not allow_deleted:
        raise NotFound(f"logged model {model_id!r} is deleted")
    return {"model": logged_model_json(model)}


@router.post(API + "/logged-models")
def create_logged_model(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the new PENDING logged model (editors of the experiment); MLflow names it at
    random when no name is sent."""
    model = store.logged_models.create(
        caller.experiment(text(body, "experiment_id"), Role.EDITOR),
        text(body, "name", required=False) or f"model-{secrets.token_hex(4)}",
        source_run_id=text(body, "source_run_id", required=False),
        model_type=text(body, "model_type", required=False),
        params=key_values(body.get("params"), "params"),
        tags=key_values(body.get("tags"), "tags"),
    )
    return JSONResponse({"model": logged_model_json(model)})


@router.post(API + "/logged-models/search")
def search_logged_models(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one page of the experiments' logged models, newest first."""
    if body.get("datasets"):
        raise InvalidInput("'datasets' is not supported: Perennia keeps no per-model metrics")
    _check_order(objects(body.get("order_by"), "order_by"))
    experiment_ids = ids(body, "experiment_ids")
    if not experiment_ids:
        raise InvalidInput("'experiment_ids' must list at least one experiment id")
    experiment_ids = caller.experiments(experiment_ids, Role.VIEWER)
    where = parse_filter(body.get("filter"), _FILTERABLE, tags=False)
    page = store.logged_models.search(
        experiment_ids,
        max_results(body.get("max_results"), 100, MAX_SEARCH_RESULTS),
        page_token(body),
        name=where.value("name"),
        source_run_id=where.value("source_run_id"),
    )
    result: dict[str, Any] = {"models": [logged_model_json(m) for m in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


@router.get(API + "/logged-models/{model_id}")
def get_logged_model(
    model_id: str, request: Request, caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """Return the logged model; a deleted one only with ?allow_deleted=true."""
    allow = request.query_params.get("allow_deleted", "").lower() == "true"
    return JSONResponse(_model(caller, model_id, allow_deleted=allow))


@router.patch(API + "/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the model after setting its final status (READY or UPLOAD_FAILED; editors)."""
    caller.logged_model(model_id, Role.EDITOR)
    status = _FINAL_STATUS.get(str(body.get("status")))
    if status is None:
        raise InvalidInput(
            f"'status' must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED, got "
            f"{body.get('status')!r:.40}"
        )
    return JSONResponse(
        {"model": logged_model_json(store.logged_models.finalize(model_id, status))}
    )


@router.delete(API + "/logged-models/{model_id}")
def delete_logged_model(
    model_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Mark the logged model deleted (editors)."""
    caller.logged_model(model_id, Role.EDITOR)
    store.logged_models.delete(model_id)
    return JSONResponse({})


@router.patch(API + "/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set tags on the logged model (editors)."""
    caller.logged_model(model_id, Role.EDITOR)
    store.logged_models.set_tags(model_id, key_values(body.get("tags"), "tags"))
    return JSONResponse({})


@router.delete(API + "/logged-models/{model_id}/tags/{key:path}")
def delete_logged_model_tag(
    model_id: str,
    key: str,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one tag of the logged model (editors)."""
    caller.logged_model(model_id, Role.EDITOR)
    store.logged_models.delete_tag(model_id, key)
    return JSONResponse({})


@router.post(API + "/logged-models/{model_id}/params")
def log_logged_model_params(
    model_id: str,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record params on the logged model (editors)."""
    caller.logged_model(model_id, Role.EDITOR)
    store.logged_models.log_params(model_id, key_values(body.get("params"), "params"))
    return JSONResponse({})


@router.post(API + "/runs/outputs")
def log_outputs(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Accept a run's model outputs once the run and each model exist (editors of the run).

    A logged model's link to its run is its `source_run_id`, set when it was created; the step
    MLflow sends is not kept.
    """
    run = store.runs.get(caller.run(text(body, "run_id"), Role.EDITOR))
    for item in objects(body.get("models"), "models"):
        model = caller.logged_model(text(item, "model_id"), Role.VIEWER)
        if model.experiment_id != run.info.experiment_id:
            raise InvalidInput(
                f"logged model {model.model_id!r} is in experiment {model.experiment_id}, "
                f"not in run {run.info.run_id!r}'s experiment {run.info.experiment_id}"
            )
    return JSONResponse({})


@router.get("/api/3.0/mlflow/server-info")
def server_info(caller: Caller = Depends(caller_of)) -> JSONResponse:
    """Return MLflow's capability probe: proxied artifacts, no multipart, no workspaces."""
    caller.signed_in()
    return JSONResponse(
        {
            "store_type": None,
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        }
    )
