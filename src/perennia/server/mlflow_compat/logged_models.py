"""MLflow 3's logged-model endpoints (`/api/2.0/mlflow/logged-models/...`) over `store.logged_models`.

`mlflow.<flavor>.log_model` creates a logged model, links it to its run (`runs/outputs`),
uploads its files through the artifact proxy and finalizes it; `register_model` then points a
registry version at `models:/<model_id>`. Also here: `/api/3.0/mlflow/server-info`, the
capability probe MLflow 3 clients make before transferring artifacts.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from perennia.entities import LoggedModelMetric, Metric, ModelLink, Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    Payload,
    ids,
    integer,
    key_values,
    max_results,
    objects,
    page_token,
    parse_filter,
    text,
)
from perennia.server.mlflow_compat.artifacts import download_artifact, list_artifacts
from perennia.server.mlflow_compat.shapes import (
    logged_model_json,
    logged_model_uri,
    model_metric_from_json,
)
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import store_of
from perennia.store.base import ServerStore

# No router prefix: server-info lives under /api/3.0, everything else under /api/2.0/mlflow.
router = APIRouter(include_in_schema=False, route_class=MlflowRoute)
API = "/api/2.0/mlflow"
UI_API = "/ajax-api/2.0/mlflow"  # the same calls, as MLflow's web pages make them
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


def _dataset_of(item: dict[str, Any]) -> tuple[str, str | None]:
    """Return the (name, digest or None) a `datasets` entry of a logged-model search names."""
    return text(item, "dataset_name"), text(item, "dataset_digest", required=False)


def model_metrics(
    caller: Caller, run_id: str, metrics: list[Metric], bodies: list[dict[str, Any]]
) -> dict[str, list[LoggedModelMetric]]:
    """Return the run's metric values to record on each logged model they name (`model_id`).

    Called before anything is written, so a model the caller may not edit (or that does not
    exist) refuses the whole request instead of leaving the run's half of it stored.
    """
    by_model: dict[str, list[LoggedModelMetric]] = {}
    for metric, body in zip(metrics, bodies, strict=True):
        model_id = text(body, "model_id", required=False)
        if model_id:
            by_model.setdefault(model_id, []).append(model_metric_from_json(body, metric, run_id))
    for model_id in by_model:
        caller.logged_model(model_id, Role.EDITOR)
    return by_model


def record_model_metrics(store: ServerStore, by_model: dict[str, list[LoggedModelMetric]]) -> None:
    """Record the metric values `model_metrics` gathered on their logged models."""
    for model_id, metrics in by_model.items():
        store.logged_models.log_metrics(model_id, metrics)


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
    datasets = [_dataset_of(d) for d in objects(body.get("datasets"), "datasets")]
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
        datasets=datasets or None,
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


def _proxied_root(caller: Caller, model_id: str) -> str:
    """Return the proxy path of the logged model's files, once the caller may read it."""
    model = caller.logged_model(model_id, Role.VIEWER)
    return logged_model_uri(model).removeprefix("mlflow-artifacts:/")


@router.get(API + "/logged-models/{model_id}/artifacts/directories")
@router.get(UI_API + "/logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(
    model_id: str, request: Request, caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """List the logged model's files and folders under `artifact_directory_path`."""
    root = _proxied_root(caller, model_id)
    inner = request.query_params.get("artifact_directory_path", "").strip("/")
    listed = list_artifacts(request, f"{root}/{inner}".rstrip("/"), caller)
    return JSONResponse({"root_uri": f"mlflow-artifacts:/{root}", **json.loads(listed.body)})


@router.get(API + "/logged-models/{model_id}/artifacts/files")
@router.get(UI_API + "/logged-models/{model_id}/artifacts/files")
def get_logged_model_artifact(
    model_id: str, request: Request, caller: Caller = Depends(caller_of)
) -> Response:
    """Return one file of the logged model (`artifact_file_path`), digest-checked."""
    root = _proxied_root(caller, model_id)
    inner = text(dict(request.query_params), "artifact_file_path")
    return download_artifact(request, f"{root}/{inner}", caller)


@router.post(API + "/runs/outputs")
def log_outputs(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record the logged models a run produced, at a step (editors of the run; each model must
    be in the run's experiment)."""
    run = store.runs.get(caller.run(text(body, "run_id"), Role.EDITOR))
    links = []
    for item in objects(body.get("models"), "models"):
        model = caller.logged_model(text(item, "model_id"), Role.VIEWER)
        if model.experiment_id != run.info.experiment_id:
            raise InvalidInput(
                f"logged model {model.model_id!r} is in experiment {model.experiment_id}, "
                f"not in run {run.info.run_id!r}'s experiment {run.info.experiment_id}"
            )
        links.append(ModelLink(model.model_id, "output", integer(item, "step") or 0))
    if links:
        store.logged_models.link_run(run.info.run_id, links)
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
