"""MLflow's tracking endpoints under /api/2.0/mlflow/, answered from the store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.clock import now_ms
from perennia.entities import MetricBatch, ModelLink, Param, Role, RunTag, ViewType
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    Payload,
    args_of,
    ids,
    integer,
    invalid,
    key_values,
    max_results,
    missing,
    objects,
    page_token,
    strings,
    text,
)
from perennia.server.mlflow_compat.experiment_search import search_experiments as find_experiments
from perennia.server.mlflow_compat.logged_models import model_metrics, record_model_metrics
from perennia.server.mlflow_compat.lookups import is_run_id, run_of
from perennia.server.mlflow_compat.shapes import (
    dataset_input_from_json,
    experiment_json,
    metric_from_json,
    metric_json,
    run_info_json,
    run_json,
)
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import grant_creator, run_owner, store_of
from perennia.store.base import MAX_SEARCH_RESULTS, ServerStore
from perennia.store.limits import MAX_EXPERIMENT_PAGE
from perennia.store.paging import decode_page_token, encode_page_token

router = APIRouter(prefix="/api/2.0/mlflow", include_in_schema=False, route_class=MlflowRoute)
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


def _run_id(args: dict[str, Any]) -> str:
    found = text(args, "run_id", required=False) or text(args, "run_uuid", required=False)
    if found is None:
        raise missing("run_id")
    return found


def _value(args: dict[str, Any]) -> str:
    value = args.get("value")
    if value is None:
        return ""  # protobuf JSON leaves an empty string out
    if not isinstance(value, str):
        raise invalid("value", value)
    return value


# -- experiments ------------------------------------------------------------------------------


@router.post("/experiments/create")
def create_experiment(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    name = text(body, "name")
    caller.signed_in(name)
    text(body, "artifact_location", required=False)  # checked, then ignored (below)
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
    size = max_results(args.get("max_results"), 1000, MAX_EXPERIMENT_PAGE)
    order_by = request.query_params.getlist("order_by") or strings(args, "order_by") or []
    found, token = find_experiments(
        store, view, args.get("filter"), order_by, size, page_token(args), caller.listing()
    )
    result: dict[str, Any] = {"experiments": [experiment_json(e) for e in found]}
    if token:
        result["next_page_token"] = token
    return JSONResponse(result)


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


@router.post("/experiments/delete-experiment-tag")
def delete_experiment_tag(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    eid = caller.experiment(text(body, "experiment_id"), Role.EDITOR)
    store.experiments.delete_tag(eid, text(body, "key"))
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
    parent = _parent(caller, tags.get("mlflow.parentRunId"))
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


def _parent(caller: Caller, parent: str | None) -> str | None:
    """Return the parent run to link, once the caller may read it.

    Like MLflow, a parent id that names no run is kept as the tag only, without a link.
    """
    if not is_run_id(parent):
        return None
    try:
        return caller.run(parent, Role.VIEWER)
    except NotFound:
        return None


@router.get("/runs/get")
def get_run(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    run_id = run_of(caller, _run_id(args_of(request, {})), Role.VIEWER)
    links = store.logged_models.run_links([run_id]).get(run_id)
    return JSONResponse({"run": run_json(store.runs.get(run_id), links)})


@router.post("/runs/update")
def update_run(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    info = store.runs.update(
        run_of(caller, _run_id(body), Role.EDITOR),
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
    store.runs.delete(run_of(caller, _run_id(body), Role.EDITOR))
    return JSONResponse({})


@router.post("/runs/restore")
def restore_run(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    store.runs.restore(run_of(caller, _run_id(body), Role.EDITOR))
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
    links = store.logged_models.run_links([r.info.run_id for r in page.items])
    result: dict[str, Any] = {"runs": [run_json(r, links.get(r.info.run_id)) for r in page.items]}
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
    run_id = run_of(caller, _run_id(body), Role.EDITOR)
    by_model = model_metrics(caller, run_id, [metric], [body])
    store.metrics.log(run_id, MetricBatch.from_metrics([metric]))
    record_model_metrics(store, by_model)
    return JSONResponse({})


@router.post("/runs/log-parameter")
def log_param(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = run_of(caller, _run_id(body), Role.EDITOR)
    store.params.log(run_id, [Param(text(body, "key"), _value(body))])
    return JSONResponse({})


@router.post("/runs/set-tag")
def set_tag(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = run_of(caller, _run_id(body), Role.EDITOR)
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
    run_id, key = run_of(caller, _run_id(body), Role.EDITOR), text(body, "key")
    try:
        store.tags.delete(run_id, key)
    except NotFound:
        raise NotFound(f"No tag with name: {key} in run with id {run_id}") from None
    except Conflict:
        raise InvalidInput(
            f"The run {run_id} must be in the 'active' state. Current state is deleted."
        ) from None
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
    run_id = run_of(caller, _run_id(body), Role.EDITOR)
    parsed = [metric_from_json(m, None, f"metrics[{i}].") for i, m in enumerate(metrics)]
    by_model = model_metrics(caller, run_id, parsed, metrics)
    batch = MetricBatch.from_metrics(parsed)
    store.log_batch(
        run_id,
        batch if len(batch) else None,
        [Param(k, v) for k, v in params.items()],
        [RunTag(k, v) for k, v in tags.items()],
    )
    record_model_metrics(store, by_model)
    return JSONResponse({})


@router.post("/runs/log-inputs")
def log_inputs(
    body: dict = Payload,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    run_id = run_of(caller, _run_id(body), Role.EDITOR)
    inputs = [dataset_input_from_json(d) for d in objects(body.get("datasets"), "datasets")]
    models = [
        ModelLink(caller.logged_model(text(m, "model_id"), Role.VIEWER).model_id, "input")
        for m in objects(body.get("models"), "models")
    ]
    if inputs:
        store.inputs.log(run_id, inputs)
    if models:
        store.logged_models.link_run(run_id, models)
    return JSONResponse({})


@router.get("/metrics/get-history")
def metric_history(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    args = args_of(request, {})
    run_id = run_of(caller, _run_id(args), Role.VIEWER)
    size = max_results(args.get("max_results"), MAX_HISTORY, MAX_HISTORY)
    start = decode_page_token(page_token(args))
    history = store.metrics.history(run_id, text(args, "metric_key"))
    result: dict[str, Any] = {"metrics": [metric_json(m) for m in history[start : start + size]]}
    if start + size < len(history):
        result["next_page_token"] = encode_page_token(start + size)
    return JSONResponse(result)
