"""/api/v1/runs/{run_id}/...: what a run records: metrics, params, tags, inputs, artifact entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from perennia.entities import (
    ArtifactEntry,
    Dataset,
    DatasetInput,
    MetricBatch,
    Param,
    Role,
    RunTag,
    decode_float,
    decode_floats,
)
from perennia.errors import InvalidInput
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import entity, json_object, store_of
from perennia.server.schemas import (
    KeyValue,
    LogBatch,
    LogInputs,
    MetricColumns,
    RecordArtifacts,
)
from perennia.store.base import ServerStore
from perennia.store.checks import check_artifact_entry

router = APIRouter(prefix="/api/v1/runs/{run_id}", tags=["run data"])


def metric_batch(columns: MetricColumns) -> MetricBatch:
    """Return the columnar request body as a MetricBatch."""
    return MetricBatch(
        list(columns.keys),
        [decode_float(v) for v in columns.values],
        list(columns.steps),
        list(columns.timestamps),
    )


_COLUMNS = ("keys", "values", "steps", "timestamps")
_BATCH_SCHEMA = LogBatch.model_json_schema(ref_template="#/components/schemas/{model}")
_BATCH_SCHEMA.pop("$defs", None)


def _raw_batch(data: Any) -> MetricBatch | None:
    """Return a MetricBatch from raw JSON columns; the store's checks judge every value."""
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) != set(_COLUMNS):
        raise InvalidInput(f"metrics must be an object with exactly the lists {list(_COLUMNS)}")
    for name in _COLUMNS:
        if not isinstance(data[name], list):
            raise InvalidInput(f"metrics.{name} must be a list")
    return MetricBatch(
        data["keys"], decode_floats(data["values"]), data["steps"], data["timestamps"]
    )


def _pairs_of(data: Any, field: str) -> list[tuple[Any, Any]]:
    if not isinstance(data, list) or not all(
        isinstance(item, dict) and set(item) == {"key", "value"} for item in data
    ):
        raise InvalidInput(f"{field} must be a list of {{'key', 'value'}} objects")
    return [(item["key"], item["value"]) for item in data]


@router.post(
    "/batch",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
async def log_batch(
    run_id: str, request: Request, caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """Write metrics, params and tags of one run in one transaction (editors).

    The hot path: the body is decoded once into columns, without a per-value model, and the
    store's own checks (the same on every backend) reject bad values by field name.
    """
    run_id = await run_in_threadpool(caller.run, run_id, Role.EDITOR)
    body = await json_object(request)
    unknown = set(body) - {"metrics", "params", "tags"}
    if unknown:
        raise InvalidInput(f"unknown field(s) {sorted(unknown)}; expected metrics, params, tags")
    batch = _raw_batch(body.get("metrics"))
    params = [Param(k, v) for k, v in _pairs_of(body.get("params", []), "params")]
    tags = [RunTag(k, v) for k, v in _pairs_of(body.get("tags", []), "tags")]
    store = store_of(request)
    await run_in_threadpool(store.log_batch, run_id, batch, params, tags)
    return JSONResponse({})


@router.post("/metrics")
def log_metrics(
    run_id: str,
    body: MetricColumns,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Append a columnar batch of metric points (editors)."""
    store.metrics.log(caller.run(run_id, Role.EDITOR), metric_batch(body))
    return JSONResponse({})


@router.get("/metrics/history")
def metric_history(
    run_id: str,
    key: str = Query(...),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return every point of one metric, ordered by step then timestamp."""
    return entity(store.metrics.history(caller.run(run_id, Role.VIEWER), key))


@router.get("/metrics/downsampled")
def metric_downsampled(
    run_id: str,
    key: str = Query(...),
    max_points: int = Query(2000),
    start: int | None = Query(None),
    end: int | None = Query(None),
    method: str = Query("minmax"),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return at most `max_points` points of one metric as columns (values, steps, timestamps)."""
    from perennia.entities import encode_floats

    batch = store.metrics.history_downsampled(
        caller.run(run_id, Role.VIEWER), key, max_points, start, end, method
    )
    body = {"values": encode_floats(batch.values), "steps": batch.steps}
    return JSONResponse({**body, "timestamps": batch.timestamps})


@router.post("/params")
def log_params(
    run_id: str,
    body: list[KeyValue],
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record params (immutable once logged; editors)."""
    store.params.log(caller.run(run_id, Role.EDITOR), [Param(p.key, p.value) for p in body])
    return JSONResponse({})


@router.post("/tags")
def set_tags(
    run_id: str,
    body: list[KeyValue],
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Set run tags (editors)."""
    store.tags.set(caller.run(run_id, Role.EDITOR), [RunTag(t.key, t.value) for t in body])
    return JSONResponse({})


@router.delete("/tags")
def delete_tag(
    run_id: str,
    key: str = Query(...),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete one run tag (editors)."""
    store.tags.delete(caller.run(run_id, Role.EDITOR), key)
    return JSONResponse({})


@router.post("/inputs")
def log_inputs(
    run_id: str,
    body: LogInputs,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record datasets the run consumed (editors)."""
    inputs = [
        DatasetInput(Dataset(**i.dataset.model_dump(by_alias=True)), i.context, i.tags)
        for i in body.inputs
    ]
    store.inputs.log(caller.run(run_id, Role.EDITOR), inputs)
    return JSONResponse({})


@router.get("/inputs")
def list_inputs(
    run_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return the run's dataset inputs."""
    return entity(store.inputs.list(caller.run(run_id, Role.VIEWER)))


@router.post("/artifact-entries")
def record_artifacts(
    run_id: str,
    body: RecordArtifacts,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Add or replace artifact manifest entries (editors).

    Each entry must name a blob that is stored and that the caller uploaded or may already read
    through some run: a digest is not a key to someone else's bytes.
    """
    run_id = caller.run(run_id, Role.EDITOR)
    entries = [check_artifact_entry(ArtifactEntry(e.path, e.digest, e.size)) for e in body.entries]
    blobs = request.app.state.artifacts.for_run(run_id).blobs
    for digest in sorted({entry.digest for entry in entries}):
        caller.blob(digest)
        if not blobs.exists(digest):
            raise InvalidInput(f"blob {digest} is not stored; upload its bytes before naming it")
    store.artifacts.record(run_id, entries)
    return JSONResponse({})


@router.get("/artifact-entries")
def list_artifacts(
    run_id: str,
    prefix: str = "",
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the manifest entries under a path prefix."""
    return entity(store.artifacts.list(caller.run(run_id, Role.VIEWER), prefix))


@router.get("/artifact-entries/one")
def get_artifact(
    run_id: str,
    path: str = Query(...),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one manifest entry."""
    return entity(store.artifacts.get(caller.run(run_id, Role.VIEWER), path))
