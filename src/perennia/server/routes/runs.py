"""/api/v1/runs: run lifecycle, heartbeats and search (as entities or as DataFrame columns)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from perennia.entities import Role, ViewType, to_dict
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import entity, run_owner, store_of
from perennia.server.schemas import (
    CreateRun,
    Cutoff,
    Heartbeat,
    PurgeCutoff,
    SearchRuns,
    UpdateRun,
)
from perennia.store.base import ServerStore

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.post("", status_code=201)
def create_run(
    body: CreateRun,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create a RUNNING run (editors); returns it (its user is the signed-in one when sign-in
    is on)."""
    experiment_id = caller.experiment(body.experiment_id, Role.EDITOR)
    if body.parent_run_id is not None:
        caller.run(body.parent_run_id, Role.VIEWER)
    run = store.runs.create(
        experiment_id,
        run_name=body.run_name,
        user_id=run_owner(request, body.user_id),
        start_time=body.start_time,
        tags=body.tags,
        parent_run_id=body.parent_run_id,
        source_name=body.source_name,
        git_commit=body.git_commit,
    )
    return entity(run, status_code=201)


@router.post("/search")
def search_runs(
    body: SearchRuns, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return a page of runs matching an MLflow-style filter, in experiments the caller may
    read (all of those when `experiment_ids` is empty)."""
    experiment_ids = caller.experiments(body.experiment_ids, Role.VIEWER)
    page = store.runs.search(
        experiment_ids,
        body.filter_string,
        ViewType(body.view_type),
        1000 if body.max_results is None else body.max_results,
        body.order_by,
        body.page_token,
        caller.listing(),
    )
    return entity(page)


ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_BATCH_ROWS = 65_536


@router.post("/search-frame")
def search_runs_frame(
    body: SearchRuns,
    request: Request,
    columns: list[str] | None = Query(None),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> Response:
    """Return matching runs as DataFrame columns (times in epoch ms, missing values null): an
    Arrow IPC stream when the client accepts one, else JSON."""
    experiment_ids = caller.experiments(body.experiment_ids, Role.VIEWER)
    frame = store.runs.search_frame(
        experiment_ids,
        body.filter_string,
        ViewType(body.view_type),
        body.max_results,
        body.order_by,
        caller.listing(),
        columns,
    )
    if ARROW_STREAM in request.headers.get("accept", ""):
        # One body, not a StreamingResponse: the guard middleware replays the request body and
        # then reports a disconnect, which would cancel a streamed answer after its headers.
        return Response(b"".join(arrow_batches(frame)), media_type=ARROW_STREAM)
    return JSONResponse({"columns": {name: _column(frame[name]) for name in frame.columns}})


def _arrow_column(series: Any) -> Any:
    """Return one frame column as an Arrow array, converted whole (no Python object per cell
    for numbers and times)."""
    import numpy as np
    import pyarrow as pa

    if str(series.dtype).startswith("datetime64"):
        nanos = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
        missing = series.isna().to_numpy()
        return pa.array(nanos // 1_000_000, type=pa.int64(), mask=missing)
    if series.dtype == np.float64:
        return pa.array(series.to_numpy(), type=pa.float64(), from_pandas=False)
    return pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)


class _Chunks:
    """A write-only file that hands back what was written since the last `take`."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: Any) -> int:
        """Keep a copy of `data`; return its length."""
        self.parts.append(bytes(data))
        return len(self.parts[-1])

    def flush(self) -> None:
        """Nothing to flush: `take` hands the bytes on."""

    def take(self) -> bytes:
        """Return the bytes written since the last call."""
        out, self.parts = b"".join(self.parts), []
        return out


def arrow_batches(frame: Any) -> Iterator[bytes]:
    """Yield the frame as an Arrow IPC stream (times as epoch-ms int64), batch by batch."""
    import pyarrow as pa

    columns = {name: _arrow_column(frame[name]) for name in frame.columns}
    schema = pa.schema([(name, array.type) for name, array in columns.items()])
    sink = _Chunks()
    with pa.ipc.new_stream(sink, schema) as writer:
        for start in range(0, len(frame), ARROW_BATCH_ROWS):
            arrays = [array.slice(start, ARROW_BATCH_ROWS) for array in columns.values()]
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            yield sink.take()
    yield sink.take()


def _column(series: Any) -> list[Any]:
    if str(series.dtype).startswith("datetime64"):
        # NaT != NaT, like NaN; a timestamp's nanoseconds hold the stored milliseconds exactly.
        return [None if ts != ts else ts.value // 1_000_000 for ts in series]
    return [_json_value(v) for v in series.tolist()]


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if value != value else to_dict(value)
    return value


@router.post("/heartbeat")
def heartbeat(
    body: Heartbeat, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Stamp the heartbeat of live runs (editors of each)."""
    store.runs.heartbeat(caller.runs(body.run_ids, Role.EDITOR), body.now_ms)
    caller.signed_in()  # an empty list names nothing to check
    return JSONResponse({})


@router.post("/mark-stale-killed")
def mark_stale_killed(
    body: Cutoff, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Mark RUNNING runs silent since the cutoff KILLED (admins); returns their ids."""
    caller.admin()
    return JSONResponse({"run_ids": store.runs.mark_stale_killed(body.older_than_ms)})


@router.post("/purge")
def purge_runs(
    body: PurgeCutoff,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Permanently remove runs trashed before the cutoff (admins); returns how many."""
    caller.admin()
    purged = store.runs.purge_deleted(body.older_than_ms, dry_run=body.dry_run)
    return JSONResponse({"purged": purged})


@router.get("/{run_id}")
def get_run(
    run_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return a run with its latest metrics, params, tags and inputs."""
    return entity(store.runs.get(caller.run(run_id, Role.VIEWER)))


@router.patch("/{run_id}")
def update_run(
    run_id: str,
    body: UpdateRun,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Change a run's status, end time, name or error (editors); returns its info."""
    info = store.runs.update(
        caller.run(run_id, Role.EDITOR),
        status=body.status,
        end_time=body.end_time,
        run_name=body.run_name,
        error=body.error,
    )
    return entity(info)


@router.delete("/{run_id}")
def delete_run(
    run_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Move a run to the trash (editors)."""
    store.runs.delete(caller.run(run_id, Role.EDITOR))
    return JSONResponse({})


@router.post("/{run_id}/restore")
def restore_run(
    run_id: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Take a run out of the trash (editors)."""
    store.runs.restore(caller.run(run_id, Role.EDITOR))
    return JSONResponse({})
