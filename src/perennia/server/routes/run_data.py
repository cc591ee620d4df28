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
    RunTag,
    decode_float,
    decode_floats,
)
from perennia.errors import InvalidInput
from perennia.server.routes.common import entity, json_object, store_of
from perennia.server.schemas import (
    KeyValue,
    LogBatch,
    LogInputs,
    MetricColumns,
    RecordArtifacts,
)
from perennia.store.base import Store

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
async def log_batch(run_id: str, request: Request) -> JSONResponse:
    """Write metrics, params and tags of one run in one transaction.

    The hot path: the body is decoded once into columns, without a per-value model, and the
    store's own checks (the same on every backend) reject bad values by field name.
    """
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
def log_metrics(run_id: str, body: MetricColumns, store: Store = Depends(store_of)) -> JSONResponse:
    """Append a columnar batch of metric points."""
    store.metrics.log(run_id, metric_batch(body))
    return JSONResponse({})


@router.get("/metrics/history")
def metric_history(
    run_id: str, key: str = Query(...), store: Store = Depends(store_of)
) -> JSONResponse:
    """Return every point of one metric, ordered by step then timestamp."""
    return entity(store.metrics.history(run_id, key))


@router.post("/params")
def log_params(run_id: str, body: list[KeyValue], store: Store = Depends(store_of)) -> JSONResponse:
    """Record params (immutable once logged)."""
    store.params.log(run_id, [Param(p.key, p.value) for p in body])
    return JSONResponse({})


@router.post("/tags")
def set_tags(run_id: str, body: list[KeyValue], store: Store = Depends(store_of)) -> JSONResponse:
    """Set run tags."""
    store.tags.set(run_id, [RunTag(t.key, t.value) for t in body])
    return JSONResponse({})


@router.delete("/tags")
def delete_tag(
    run_id: str, key: str = Query(...), store: Store = Depends(store_of)
) -> JSONResponse:
    """Delete one run tag."""
    store.tags.delete(run_id, key)
    return JSONResponse({})


@router.post("/inputs")
def log_inputs(run_id: str, body: LogInputs, store: Store = Depends(store_of)) -> JSONResponse:
    """Record datasets the run consumed."""
    inputs = [
        DatasetInput(Dataset(**i.dataset.model_dump(by_alias=True)), i.context) for i in body.inputs
    ]
    store.inputs.log(run_id, inputs)
    return JSONResponse({})


@router.get("/inputs")
def list_inputs(run_id: str, store: Store = Depends(store_of)) -> JSONResponse:
    """Return the run's dataset inputs."""
    return entity(store.inputs.list(run_id))


@router.post("/artifact-entries")
def record_artifacts(
    run_id: str, body: RecordArtifacts, store: Store = Depends(store_of)
) -> JSONResponse:
    """Add or replace artifact manifest entries."""
    store.artifacts.record(run_id, [ArtifactEntry(e.path, e.digest, e.size) for e in body.entries])
    return JSONResponse({})


@router.get("/artifact-entries")
def list_artifacts(run_id: str, prefix: str = "", store: Store = Depends(store_of)) -> JSONResponse:
    """Return the manifest entries under a path prefix."""
    return entity(store.artifacts.list(run_id, prefix))


@router.get("/artifact-entries/one")
def get_artifact(
    run_id: str, path: str = Query(...), store: Store = Depends(store_of)
) -> JSONResponse:
    """Return one manifest entry."""
    return entity(store.artifacts.get(run_id, path))
