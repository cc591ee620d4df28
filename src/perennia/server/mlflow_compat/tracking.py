"""MLflow's tracking endpoints under /api/2.0/mlflow/, answered from the store."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.clock import now_ms
from perennia.entities import MetricBatch, Param, Role, RunTag, ViewType
from perennia.errors import InvalidInput, NotFound, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    Payload,
    args_of,
    ids,
    integer,
    json_scalar,
    key_values,
    max_results,
    objects,
    page_token,
    strings,
    text,
)
from perennia.server.mlflow_compat.shapes import (
    dataset_input_from_json,
    experiment_json,
    metric_from_json,
    metric_json,
    run_info_json,
    run_json,
)
from perennia.server.routes.common import grant_creator, run_owner, store_of
from perennia.store.base import MAX_SEARCH_RESULTS, ServerStore
from perennia.store.limits import MAX_EXPERIMENT_PAGE
from perennia.store.paging import decode_page_token, encode_page_token

router = APIRouter(prefix="/api/2.0/mlflow", include_in_schema=False)
# MLflow's own limits (mlflow/utils/validation.py), so clients see the same refusals.
MAX_BATCH_METRICS, MAX_BATCH_PARAMS_TAGS, MAX_HISTORY = 1000, 100, 25_000
_VIEW_TYPES = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL,
    "1": ViewType.ACTIVE_ONLY,
    "2": ViewType.DELETED_ONLY,
    "3": ViewType.ALL,
}


def _view_type(value: Any) -> ViewType:
    if value is not None and not isinstance(value, str | int):
        raise InvalidInput(
            f"'view_type' must be ACTIVE_ONLY, DELETED_ONLY or ALL, got {value!r:.40}"
        )
    try:
        return _VIEW_TYPES[str(value or "ACTIVE_ONLY")]
    except KeyError:
        raise InvalidInput(f"view type {value!r} is not ACTIVE_ONLY, DELETED_ONLY or ALL") from None


_NAME_FILTER = re.compile(r"^\s*(?:attributes?\.)?name\s+(LIKE|=)\s+'((?:[^']|'')*)'\s*$", re.I)


def _name_filter(filter_string: Any) -> tuple[str, str] | None:
    """Return ("LIKE" or "=", value) for `name LIKE 'x%'` / `name = 'x'`, None for no filter."""
    if not filter_string:
        return None
    match = _NAME_FILTER.match(filter_string) if isinstance(filter_string, str) else None
    if match is None:
        raise InvalidInput(
            f"experiment filter {str(filter_string)[:80]!r} is not supported; "
            "use name LIKE 'pattern' or name = 'exact name'"
        )
    return match.group(1).upper(), match.group(2).replace("''", "'")


def _run_id(args: dict[str, Any]) -> str:
    return text(args, "run_id", required=False) or text(args, "run_uuid")


def _value(args: dict[str, Any]) -> str:
    value = args.get("value", "")
    if not isinstance(value, str | int | float):
        raise InvalidInput(f"'value' must be text, got {type(value).__name__}")
    return value if isinstance(value, str) else json_scalar(value)


# -- experiments ------------------------------------------------------------------------------


@router.post("/experiments/create")
def create_experiment(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    name = text(body, "name")
    caller.signed_in(name)
    tags = key_values(body.get("tags"), "tags")
    # Where artifacts go is the server's choice: a client's artifact_location is ignored.
    eid = store.experiments.create(name, None, tags)
    grant_creator(caller, store, experiment_id=eid)
    return JSONResponse({"experiment_id": eid})


@router.get("/experiments/get")
def get_experiment(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    eid = caller.experiment(text(args_of(request, {}), "experiment_id"), Role.VIEWER)
    return JSONResponse({"experiment": experiment_json(store.experiments.get(eid))})


@router.get("/experiments/get-by-name")
def get_experiment_by_name(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    name = text(args_of(request, {}), "experiment_name")
    experiment = store.experiments.get_by_name(name)
    if experiment is None:
        caller.signed_in()
        raise NotFound(f"Could not find experiment with name '{name}'")
    caller.experiment(experiment.experiment_id, Role.VIEWER)
    return JSONResponse({"experiment": experiment_json(experiment)})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search_experiments(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    args = args_of(request, body)
    view = _view_type(args.get("view_type"))
    name_filter = _name_filter(args.get("filter"))
    size = max_results(args.get("max_results"), 1000, MAX_EXPERIMENT_PAGE)
    token = page_token(args)
    reader = caller.listing()
    if name_filter is not None and name_filter[0] == "=":
        found = store.experiments.get_by_name(name_filter[1])
        matches = [found] if found and found.lifecycle_stage in view.stages() else []
        if reader is not None:
            matches = [e for e in matches if _readable(caller, e.experiment_id)]
        return JSONResponse({"experiments": [experiment_json(e) for e in matches]})
    like = name_filter[1] if name_filter else None
    page = store.experiments.search(view, size, like, token, reader)
    result: dict[str, Any] = {"experiments": [experiment_json(e) for e in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


def _readable(caller: Caller, experiment_id: str) -> bool:
    try:
        caller.experiment(experiment_id, Role.VIEWER)
    except PermissionDenied:
        return False
    return True


@router.post("/experiments/update")
def update_experiment(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    eid = caller.experiment(text(body, "experiment_id"), Role.MANAGER)
    store.experiments.rename(eid, text(body, "new_name"))
    return JSONResponse({})


@router.post("/experiments/delete")
def delete_experiment(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.experiments.delete(caller.experiment(text(body, "experiment_id"), Role.MANAGER))
    return JSONResponse({})


@router.post("/experiments/restore")
def restore_experiment(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.experiments.restore(caller.experiment(text(body, "experiment_id"), Role.MANAGER))
    return JSONResponse({})


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    eid = caller.experiment(text(body, "experiment_id"), Role.EDITOR)
    store.experiments.set_tag(eid, text(body, "key"), _value(body))
    return JSONResponse({})


# -- runs -------------------------------------------------------------------------------------


@router.post("/runs/create")
def create_run(
    request: Request,
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    tags = key_values(body.get("tags"), "tags")
    experiment_id = caller.experiment(
        text(body, "experiment_id", required=False) or "0", Role.EDITOR
    )
    parent = tags.get("mlflow.parentRunId")
    if parent:
        caller.run(parent, Role.VIEWER)
    # Signed in, the run is the signed-in user's, whatever the client claims.
    claimed = text(body, "user_id", required=False) or tags.get("mlflow.user")
    run = store.runs.create(
        experiment_id,
        run_name=text(body, "run_name", required=False) or tags.get("mlflow.runName"),
        user_id=run_owner(request, claimed),
        start_time=integer(body, "start_time"),
        tags=tags,
        parent_run_id=parent,
        source_name=tags.get("mlflow.source.name"),
        git_commit=tags.get("mlflow.source.git.commit"),
    )
    return JSONResponse({"run": run_json(run)})


@router.get("/runs/get")
def get_run(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    run_id = caller.run(_run_id(args_of(request, {})), Role.VIEWER)
    return JSONResponse({"run": run_json(store.runs.get(run_id))})


@router.post("/runs/update")
def update_run(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    info = store.runs.update(
        caller.run(_run_id(body), Role.EDITOR),
        status=text(body, "status", required=False),
        end_time=integer(body, "end_time"),
        run_name=text(body, "run_name", required=False),
    )
    return JSONResponse({"run_info": run_info_json(info)})


@router.post("/runs/delete")
def delete_run(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.runs.delete(caller.run(_run_id(body), Role.EDITOR))
    return JSONResponse({})


@router.post("/runs/restore")
def restore_run(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.runs.restore(caller.run(_run_id(body), Role.EDITOR))
    return JSONResponse({})


@router.post("/runs/search")
def search_runs(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return runs of the named experiments, or of every experiment the caller may read."""
    experiment_ids = caller.experiments(ids(body, "experiment_ids"), Role.VIEWER)
    filter_string = body.get("filter") or ""
    if not isinstance(filter_string, str):
        raise InvalidInput(f"'filter' must be a string, got {type(filter_string).__name__}")
    page = store.runs.search(
        experiment_ids,
        filter_string,
        _view_type(body.get("run_view_type")),
        max_results(body.get("max_results"), 1000, MAX_SEARCH_RESULTS),
        strings(body, "order_by"),
        page_token(body),
        caller.listing(),
    )
    result: dict[str, Any] = {"runs": [run_json(r) for r in page.items]}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return JSONResponse(result)


@router.post("/runs/log-metric")
def log_metric(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    metric = metric_from_json(body, now_ms())
    store.metrics.log(caller.run(_run_id(body), Role.EDITOR), MetricBatch.from_metrics([metric]))
    return JSONResponse({})


@router.post("/runs/log-parameter")
def log_param(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = caller.run(_run_id(body), Role.EDITOR)
    store.params.log(run_id, [Param(text(body, "key"), _value(body))])
    return JSONResponse({})


@router.post("/runs/set-tag")
def set_tag(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = caller.run(_run_id(body), Role.EDITOR)
    key, value = text(body, "key"), _value(body)
    store.tags.set(run_id, [RunTag(key, value)])
    if key == "mlflow.runName":
        store.runs.update(run_id, run_name=value)
    return JSONResponse({})


@router.post("/runs/delete-tag")
def delete_tag(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.tags.delete(caller.run(_run_id(body), Role.EDITOR), text(body, "key"))
    return JSONResponse({})


@router.post("/runs/log-batch")
def log_batch(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    metrics = objects(body.get("metrics"), "metrics")
    params = key_values(body.get("params"), "params")
    tags = key_values(body.get("tags"), "tags")
    if len(metrics) > MAX_BATCH_METRICS or len(params) + len(tags) > MAX_BATCH_PARAMS_TAGS:
        raise InvalidInput(
            f"a batch holds at most {MAX_BATCH_METRICS} metrics and {MAX_BATCH_PARAMS_TAGS} "
            f"params and tags; got {len(metrics)} metrics, {len(params) + len(tags)} params and tags"
        )
    run_id = caller.run(_run_id(body), Role.EDITOR)
    now = now_ms()
    batch = MetricBatch.from_metrics([metric_from_json(m, now) for m in metrics])
    store.log_batch(
        run_id,
        batch if len(batch) else None,
        [Param(k, v) for k, v in params.items()],
        [RunTag(k, v) for k, v in tags.items()],
    )
    return JSONResponse({})


@router.post("/runs/log-inputs")
def log_inputs(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = caller.run(_run_id(body), Role.EDITOR)
    inputs = [dataset_input_from_json(d) for d in objects(body.get("datasets"), "datasets")]
    if inputs:
        store.inputs.log(run_id, inputs)
    return JSONResponse({})


@router.get("/metrics/get-history")
def metric_history(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    args = args_of(request, {})
    run_id = caller.run(_run_id(args), Role.VIEWER)
    size = max_results(args.get("max_results"), MAX_HISTORY, MAX_HISTORY)
    start = decode_page_token(page_token(args))
    history = store.metrics.history(run_id, text(args, "metric_key"))
    result: dict[str, Any] = {"metrics": [metric_json(m) for m in history[start : start + size]]}
    if start + size < len(history):
        result["next_page_token"] = encode_page_token(start + size)
    return JSONResponse(result)
