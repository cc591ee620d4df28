"""MLflow's tracking endpoints under /api/2.0/mlflow/, answered from the store."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.clock import now_ms
from perennia.entities import MetricBatch, Param, RunTag, ViewType
from perennia.errors import InvalidInput, NotFound
from perennia.server.mlflow_compat.arguments import Payload
from perennia.server.mlflow_compat.shapes import (
    dataset_input_from_json,
    experiment_json,
    metric_from_json,
    metric_json,
    run_info_json,
    run_json,
)
from perennia.server.routes.common import run_owner, store_of
from perennia.store.base import Store
from perennia.store.paging import decode_page_token, encode_page_token

router = APIRouter(prefix="/api/2.0/mlflow", include_in_schema=False)
# MLflow's own limits (mlflow/utils/validation.py), so clients see the same refusals.
MAX_BATCH_METRICS, MAX_BATCH_PARAMS_TAGS, MAX_HISTORY = 1000, 100, 25_000
_VIEW_TYPES = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY,
               "ALL": ViewType.ALL, "1": ViewType.ACTIVE_ONLY, "2": ViewType.DELETED_ONLY,
               "3": ViewType.ALL}  # fmt: skip


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise InvalidInput(f"missing value for required parameter '{name}'")
    return value


def _query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidInput(f"missing value for required parameter '{name}'")
    return value


def _view_type(value: Any) -> ViewType:
    try:
        return _VIEW_TYPES[str(value or "ACTIVE_ONLY")]
    except KeyError:
        raise InvalidInput(f"view type {value!r} is not ACTIVE_ONLY, DELETED_ONLY or ALL") from None


_NAME_FILTER = re.compile(r"^\s*(?:attributes?\.)?name\s+(LIKE|=)\s+'((?:[^']|'')*)'\s*$", re.I)


def _name_filter(filter_string: Any) -> tuple[str, str] | None:
    """Return ("LIKE" or "=", value) for `name LIKE 'x%'` / `name = 'x'`, None for no filter."""
    if not filter_string:
        return None
    match = _NAME_FILTER.match(str(filter_string))
    if match is None:
        raise InvalidInput(
            f"experiment filter {str(filter_string)[:80]!r} is not supported; "
            "use name LIKE 'pattern' or name = 'exact name'"
        )
    return match.group(1).upper(), match.group(2).replace("''", "'")


def _tags(items: Any) -> list[RunTag]:
    return [RunTag(t.get("key"), t.get("value")) for t in items or []]


# -- experiments ------------------------------------------------------------------------------


@router.post("/experiments/create")
def create_experiment(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    tags = {t.key: t.value for t in _tags(body.get("tags"))}
    eid = store.experiments.create(_required(body, "name"), None, tags)
    return JSONResponse({"experiment_id": eid})


@router.get("/experiments/get")
def get_experiment(request: Request, store: Store = Depends(store_of)) -> JSONResponse:
    experiment = store.experiments.get(_query(request, "experiment_id"))
    return JSONResponse({"experiment": experiment_json(experiment)})


@router.get("/experiments/get-by-name")
def get_experiment_by_name(request: Request, store: Store = Depends(store_of)) -> JSONResponse:
    name = _query(request, "experiment_name")
    experiment = store.experiments.get_by_name(name)
    if experiment is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return JSONResponse({"experiment": experiment_json(experiment)})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search_experiments(
    request: Request, body: dict = Payload, store: Store = Depends(store_of)
) -> JSONResponse:
    args = {**dict(request.query_params), **body}
    view = _view_type(args.get("view_type"))
    name_filter = _name_filter(args.get("filter"))
    if name_filter is not None and name_filter[0] == "=":
        found = store.experiments.get_by_name(name_filter[1])
        matches = [found] if found and found.lifecycle_stage in view.stages() else []
        return JSONResponse({"experiments": [experiment_json(e) for e in matches]})
    page = store.experiments.search(
        view,
        int(args.get("max_results") or 1000),
        name_filter[1] if name_filter else None,
        args.get("page_token") or None,
    )
    result: dict[str, Any] = {"experiments": [experiment_json(e) for e in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


@router.post("/experiments/update")
def update_experiment(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.experiments.rename(_required(body, "experiment_id"), _required(body, "new_name"))
    return JSONResponse({})


@router.post("/experiments/delete")
def delete_experiment(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.experiments.delete(_required(body, "experiment_id"))
    return JSONResponse({})


@router.post("/experiments/restore")
def restore_experiment(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.experiments.restore(_required(body, "experiment_id"))
    return JSONResponse({})


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.experiments.set_tag(
        _required(body, "experiment_id"), _required(body, "key"), body.get("value", "")
    )
    return JSONResponse({})


# -- runs -------------------------------------------------------------------------------------


@router.post("/runs/create")
def create_run(
    request: Request, body: dict = Payload, store: Store = Depends(store_of)
) -> JSONResponse:
    tags = {t.key: t.value for t in _tags(body.get("tags"))}
    # Signed in, the run is the signed-in user's, whatever the client claims.
    claimed = body.get("user_id") or tags.get("mlflow.user")
    run = store.runs.create(
        str(body.get("experiment_id") or "0"),
        run_name=body.get("run_name") or tags.get("mlflow.runName"),
        user_id=run_owner(request, claimed),
        start_time=body.get("start_time"),
        tags=tags,
        parent_run_id=tags.get("mlflow.parentRunId"),
        source_name=tags.get("mlflow.source.name"),
        git_commit=tags.get("mlflow.source.git.commit"),
    )
    return JSONResponse({"run": run_json(run)})


def _run_id(body: dict[str, Any]) -> str:
    return body.get("run_id") or _required(body, "run_uuid")


@router.get("/runs/get")
def get_run(request: Request, store: Store = Depends(store_of)) -> JSONResponse:
    run_id = request.query_params.get("run_id") or _query(request, "run_uuid")
    return JSONResponse({"run": run_json(store.runs.get(run_id))})


@router.post("/runs/update")
def update_run(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    info = store.runs.update(
        _run_id(body),
        status=body.get("status"),
        end_time=body.get("end_time"),
        run_name=body.get("run_name"),
    )
    return JSONResponse({"run_info": run_info_json(info)})


@router.post("/runs/delete")
def delete_run(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.runs.delete(_run_id(body))
    return JSONResponse({})


@router.post("/runs/restore")
def restore_run(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.runs.restore(_run_id(body))
    return JSONResponse({})


@router.post("/runs/search")
def search_runs(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    page = store.runs.search(
        [str(e) for e in body.get("experiment_ids") or []],
        body.get("filter") or "",
        _view_type(body.get("run_view_type")),
        int(body.get("max_results") or 1000),
        body.get("order_by") or None,
        body.get("page_token") or None,
    )
    result: dict[str, Any] = {"runs": [run_json(r) for r in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


@router.post("/runs/log-metric")
def log_metric(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    metric = metric_from_json(body, now_ms())
    store.metrics.log(_run_id(body), MetricBatch.from_metrics([metric]))
    return JSONResponse({})


@router.post("/runs/log-parameter")
def log_param(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.params.log(_run_id(body), [Param(_required(body, "key"), body.get("value", ""))])
    return JSONResponse({})


@router.post("/runs/set-tag")
def set_tag(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    run_id, key, value = _run_id(body), _required(body, "key"), body.get("value", "")
    store.tags.set(run_id, [RunTag(key, value)])
    if key == "mlflow.runName":
        store.runs.update(run_id, run_name=value)
    return JSONResponse({})


@router.post("/runs/delete-tag")
def delete_tag(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    store.tags.delete(_run_id(body), _required(body, "key"))
    return JSONResponse({})


@router.post("/runs/log-batch")
def log_batch(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    metrics, params, tags = (
        body.get("metrics") or [],
        body.get("params") or [],
        body.get("tags") or [],
    )
    if len(metrics) > MAX_BATCH_METRICS or len(params) + len(tags) > MAX_BATCH_PARAMS_TAGS:
        raise InvalidInput(
            f"a batch holds at most {MAX_BATCH_METRICS} metrics and {MAX_BATCH_PARAMS_TAGS} "
            f"params and tags; got {len(metrics)} metrics, {len(params) + len(tags)} params and tags"
        )
    now = now_ms()
    batch = MetricBatch.from_metrics([metric_from_json(m, now) for m in metrics])
    store.log_batch(
        _run_id(body),
        batch if len(batch) else None,
        [Param(p.get("key"), p.get("value", "")) for p in params],
        _tags(tags),
    )
    return JSONResponse({})


@router.post("/runs/log-inputs")
def log_inputs(body: dict = Payload, store: Store = Depends(store_of)) -> JSONResponse:
    inputs = [dataset_input_from_json(d) for d in body.get("datasets") or []]
    if inputs:
        store.inputs.log(_run_id(body), inputs)
    return JSONResponse({})


@router.get("/metrics/get-history")
def metric_history(request: Request, store: Store = Depends(store_of)) -> JSONResponse:
    run_id = request.query_params.get("run_id") or _query(request, "run_uuid")
    history = store.metrics.history(run_id, _query(request, "metric_key"))
    size = min(int(request.query_params.get("max_results") or MAX_HISTORY), MAX_HISTORY)
    start = decode_page_token(request.query_params.get("page_token") or None)
    result: dict[str, Any] = {"metrics": [metric_json(m) for m in history[start : start + size]]}
    if start + size < len(history):
        result["next_page_token"] = encode_page_token(start + size)
    return JSONResponse(result)
