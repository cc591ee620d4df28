"""MLflow 3's logged-model endpoints (`/api/2.0/mlflow/logged-models/...`) over `store.logged_models`.

`mlflow.<flavor>.log_model` creates a logged model, links it to its run (`runs/outputs`),
uploads its files through the artifact proxy and finalizes it; `register_model` then points a
registry version at `models:/<model_id>`. Also here: `/api/3.0/mlflow/server-info`, the
capability probe MLflow 3 clients make before transferring artifacts.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from perennia.errors import InvalidInput, NotFound
from perennia.server.mlflow_compat.shapes import logged_model_json
from perennia.server.routes.common import store_of
from perennia.store.base import Store

# No router prefix: server-info lives under /api/3.0, everything else under /api/2.0/mlflow.
router = APIRouter(include_in_schema=False)
API = "/api/2.0/mlflow"
Payload = Body(default_factory=dict)
MAX_SEARCH_RESULTS = 1000
_FINAL_STATUS = {"LOGGED_MODEL_READY": "READY", "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
                 "2": "READY", "3": "FAILED"}  # fmt: skip
_CLAUSE = re.compile(
    r"""^\s*(?:attributes?\.)?(name|source_run_id)\s*=\s*(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)")\s*$""",
    re.I,
)


def _pairs(items: Any, what: str) -> dict[str, str]:
    """Return MLflow's [{key, value}] list as a dict, or raise InvalidInput naming `what`."""
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput(f"'{what}' must be a list of {{key, value}} objects")
    return {i.get("key"): i.get("value", "") for i in items}


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"missing value for required parameter '{name}'")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be a string, got {type(value).__name__}")
    return str(value)


def _search_filter(text: Any) -> dict[str, str]:
    """Return {"name"/"source_run_id": value} for `name = 'x' AND source_run_id = 'y'`."""
    if not text:
        return {}
    if not isinstance(text, str):
        raise InvalidInput("'filter' must be a string")
    found: dict[str, str] = {}
    for clause in re.split(r"\s+AND\s+", text.strip(), flags=re.I):
        match = _CLAUSE.match(clause)
        if match is None:
            raise InvalidInput(
                f"logged model filter {text[:80]!r} is not supported; use name = 'x' and/or "
                "source_run_id = '<run id>' joined by AND"
            )
        quoted = match.group(2) if match.group(2) is not None else match.group(3)
        found[match.group(1).lower()] = quoted.replace("''", "'").replace('""', '"')
    return found


def _check_order(order_by: Any) -> None:
    for item in order_by or []:
        field = item.get("field_name") if isinstance(item, dict) else None
        if field not in ("creation_timestamp", "creation_time") or item.get("ascending", True):
            raise InvalidInput(
                f"order_by {item!r:.80} is not supported; logged models are listed newest "
                "first (creation_timestamp descending)"
            )


def _max_results(value: Any) -> int:
    if value in (None, ""):
        return 100
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"'max_results' must be an integer, got {value!r:.40}") from None
    if not 1 <= number <= MAX_SEARCH_RESULTS:
        raise InvalidInput(f"'max_results' must be 1-{MAX_SEARCH_RESULTS}, got {number}")
    return number


def _model(store: Store, model_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
    model = store.logged_models.get(model_id)
    if model.lifecycle_stage != "active" and not allow_deleted:
        raise NotFound(f"logged model {model_id!r} is deleted")
    return {"model": logged_model_json(model)}


@router.post(API + "/logged-models")
def create_logged_model(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    """Return the new PENDING logged model; MLflow names it at random when no name is sent."""
    model = store.logged_models.create(
        _text(body, "experiment_id", required=True),
        _text(body, "name") or f"model-{secrets.token_hex(4)}",
        source_run_id=_text(body, "source_run_id"),
        model_type=_text(body, "model_type"),
        params=_pairs(body.get("params"), "params"),
        tags=_pairs(body.get("tags"), "tags"),
    )
    return JSONResponse({"model": logged_model_json(model)})


@router.post(API + "/logged-models/search")
def search_logged_models(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    """Return one page of the experiments' logged models, newest first."""
    if body.get("datasets"):
        raise InvalidInput("'datasets' is not supported: Perennia keeps no per-model metrics")
    _check_order(body.get("order_by"))
    experiment_ids = body.get("experiment_ids")
    if not isinstance(experiment_ids, list) or not experiment_ids:
        raise InvalidInput("'experiment_ids' must list at least one experiment id")
    page = store.logged_models.search(
        [str(e) for e in experiment_ids],
        _max_results(body.get("max_results")),
        body.get("page_token") or None,
        **_search_filter(body.get("filter")),
    )
    result: dict[str, Any] = {"models": [logged_model_json(m) for m in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


@router.get(API + "/logged-models/{model_id}")
def get_logged_model(
    model_id: str, request: Request, store: Store = Depends(store_of)
) -> JSONResponse:
    """Return the logged model; a deleted one only with ?allow_deleted=true."""
    allow = request.query_params.get("allow_deleted", "").lower() == "true"
    return JSONResponse(_model(store, model_id, allow_deleted=allow))


@router.patch(API + "/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str, body: dict = Payload, store: Store = Depends(store_of)
) -> JSONResponse:
    """Return the model after setting its final status (READY or UPLOAD_FAILED)."""
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
def delete_logged_model(model_id: str, store: Store = Depends(store_of)) -> JSONResponse:
    """Mark the logged model deleted."""
    store.logged_models.delete(model_id)
    return JSONResponse({})


@router.patch(API + "/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str, body: dict = Payload, store: Store = Depends(store_of)
) -> JSONResponse:
    """Set tags on the logged model."""
    store.logged_models.set_tags(model_id, _pairs(body.get("tags"), "tags"))
    return JSONResponse({})


@router.delete(API + "/logged-models/{model_id}/tags/{key:path}")
def delete_logged_model_tag(
    model_id: str, key: str, store: Store = Depends(store_of)
) -> JSONResponse:
    """Delete one tag of the logged model."""
    store.logged_models.delete_tag(model_id, key)
    return JSONResponse({})


@router.post(API + "/logged-models/{model_id}/params")
def log_logged_model_params(
    model_id: str, body: dict = Payload, store: Store = Depends(store_of)
) -> JSONResponse:
    """Record params on the logged model."""
    store.logged_models.log_params(model_id, _pairs(body.get("params"), "params"))
    return JSONResponse({})


@router.post(API + "/runs/outputs")
def log_outputs(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    """Accept a run's model outputs once the run and each model exist.

    A logged model's link to its run is its `source_run_id`, set when it was created; the step
    MLflow sends is not kept.
    """
    run = store.runs.get(_text(body, "run_id", required=True))
    models = body.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise InvalidInput("'models' must be a list of {model_id, step} objects")
    for item in models:
        model = store.logged_models.get(_text(item, "model_id", required=True))
        if model.experiment_id != run.info.experiment_id:
            raise InvalidInput(
                f"logged model {model.model_id!r} is in experiment {model.experiment_id}, "
                f"not in run {run.info.run_id!r}'s experiment {run.info.experiment_id}"
            )
    return JSONResponse({})


@router.get("/api/3.0/mlflow/server-info")
def server_info() -> JSONResponse:
    """Return MLflow's capability probe: proxied artifacts, no multipart, no workspaces."""
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
