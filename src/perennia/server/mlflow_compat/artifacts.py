"""MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>`).

Paths are validated by the same rules as every artifact path (no `..`, no absolute or encoded
forms); bytes land in the content-addressed store and are digest-checked when read back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from perennia.artifacts.paths import validate_artifact_path
from perennia.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/2.0/mlflow-artifacts", include_in_schema=False)
MAX_UPLOAD_BYTES = 5 * 1024**3


def _locate(request: Request, path: str) -> tuple[object, str, str]:
    """Return (repository, run id, artifact path) for `<experiment>/<run>/artifacts[/<path>]`."""
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidInput(
            f"artifact path {path!r:.80} is not of the form <experiment_id>/<run_id>/artifacts/<path>"
        )
    experiment_id, run_id = parts[0], parts[1]
    inner = validate_artifact_path(parts[3] if len(parts) == 4 else "", allow_empty=True)
    access = request.app.state.artifacts
    run = access.store.runs.get(run_id)
    if run.info.experiment_id != experiment_id:
        raise NotFound(f"run {run_id!r} is not in experiment {experiment_id!r}")
    return access.for_run(run_id), run_id, inner


@router.get("/artifacts")
def list_artifacts(request: Request, path: str = "") -> JSONResponse:
    """List the files and folders directly under a run's artifact folder."""
    repository, run_id, inner = _locate(request, path)
    start = len(inner) + 1 if inner else 0
    files = []
    for info in repository.list(run_id, inner or None):
        entry = {"path": info.path[start:], "is_dir": info.is_dir}
        if not info.is_dir:
            entry["file_size"] = info.file_size
        files.append(entry)
    return JSONResponse({"files": files})


@router.get("/artifacts/{path:path}")
def download_artifact(request: Request, path: str) -> Response:
    """Return one artifact's bytes, after checking them against their digest."""
    repository, run_id, inner = _locate(request, path)
    if not inner:
        raise InvalidInput("name a file to download; list the folder with ?path=")
    return Response(repository.read_bytes(run_id, inner), media_type="application/octet-stream")


@router.put("/artifacts/{path:path}")
async def upload_artifact(request: Request, path: str) -> JSONResponse:
    """Store the request body as one artifact file of the run."""
    from starlette.concurrency import run_in_threadpool

    repository, run_id, inner = await run_in_threadpool(_locate, request, path)
    if not inner:
        raise InvalidInput("name the artifact file to upload")
    folder, _, name = inner.rpartition("/")
    with tempfile.TemporaryDirectory(prefix="perennia-upload-") as tmp:
        target = Path(tmp) / name
        size = 0
        with open(target, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise InvalidInput(f"artifact {inner!r} exceeds {MAX_UPLOAD_BYTES} bytes")
                out.write(chunk)
        await run_in_threadpool(repository.log_file, run_id, target, folder or None)
    return JSONResponse({})
