"""MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>`).

Paths are validated by the same rules as every artifact path (no `..`, no absolute or encoded
forms); bytes land in the content-addressed store and are digest-checked when read back.

MLflow 3 keeps a logged model's files at `<exp>/models/<model_id>/artifacts/<path>`. Perennia's
artifact index is keyed by run, so those files live with the model's source run, under
`models/<model_id>/<path>` of its tree: the same bytes are reachable by both paths, are listed
with the run, and go when the run is purged. A model logged outside any run has nowhere to
keep files, and uploads to it are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from perennia.entities import Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat import free_paths
from perennia.server.mlflow_compat.lookups import is_run_id, run_of
from perennia.server.mlflow_compat.shapes import RUNS_URI
from perennia.store.artifact_paths import validate_artifact_path

router = APIRouter(include_in_schema=False)
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MAX_UPLOAD_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class _Target:
    """Where a proxied path leads: a run's repository, and a folder of that run's tree."""

    repository: Any
    run_id: str
    base: str  # "" for a run's own files, "models/<model_id>" for a logged model's
    inner: str  # the path below the run's or logged model's artifact root ("" for the root)
    free: Path | None = None  # a plain file or folder outside any run (free_paths.py)

    @property
    def path(self) -> str:
        """Return the artifact path within the run's tree ("" for the run's root)."""
        return f"{self.base}/{self.inner}".strip("/")


def _locate(request: Request, caller: Caller, path: str, need: Role) -> _Target:
    """Return the target of `<experiment>/<run>/artifacts[/<path>]` or of a logged model's,
    once the caller holds `need` on the run (or the logged model's experiment) it names."""
    parts = path.strip("/").split("/", 3)
    numbered = len(parts) > 1 and parts[0].isdigit()
    if numbered and parts[1] == "models" and len(parts) > 2 and parts[2].startswith("m-"):
        return _locate_logged_model(request, caller, path, need)
    if not (numbered and is_run_id(parts[1])):
        caller.admin()  # a path outside any run belongs to no experiment
        return _Target(None, "", "", path, _free_root(request, path))
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidInput(
            f"artifact path {path!r:.80} is not of the form <experiment_id>/<run_id>/artifacts/<path>"
        )
    experiment_id, run_id = parts[0], parts[1]
    inner = validate_artifact_path(parts[3] if len(parts) == 4 else "", allow_empty=True)
    access = request.app.state.artifacts
    run = access.store.runs.get(caller.run(run_id, need))
    if run.info.experiment_id != experiment_id:
        raise NotFound(f"run {run_id!r} is not in experiment {experiment_id!r}")
    return _Target(access.for_run(run_id), run_id, "", inner)


def _locate_logged_model(request: Request, caller: Caller, path: str, need: Role) -> _Target:
    """Return the target of `<experiment>/models/<model_id>/artifacts[/<path>]`."""
    parts = path.strip("/").split("/", 4)
    if len(parts) < 4 or parts[3] != "artifacts":
        raise InvalidInput(
            f"artifact path {path!r:.80} is not of the form "
            "<experiment_id>/models/<model_id>/artifacts/<path>"
        )
    experiment_id, model_id = parts[0], parts[2]
    inner = validate_artifact_path(parts[4] if len(parts) == 5 else "", allow_empty=True)
    access = request.app.state.artifacts
    model = caller.logged_model(model_id, need)
    if model.experiment_id != experiment_id:
        raise NotFound(f"logged model {model_id!r} is not in experiment {experiment_id!r}")
    # The store records where the files live: runs:/<source run>/<folder of that run's tree>.
    match = RUNS_URI.match(model.artifact_location)
    if match is None:  # logged outside any run: plain files under the experiment's folder
        return _Target(None, "", "", inner, _free_root(request, path))
    run_id, base = match.group(1), validate_artifact_path(match.group(2))
    return _Target(access.for_run(run_id), run_id, base, inner)


def _free_root(request: Request, path: str) -> Path:
    """Return the plain file or folder a path outside any run names (free_paths.py)."""
    root = free_paths.folder_of(request.app.state.artifacts.default_location)
    return free_paths.resolve(root, path)


@router.get(PROXY)
def list_artifacts(
    request: Request, path: str = "", caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """List the files and folders directly under a run's artifact folder."""
    target = _locate(request, caller, path, Role.VIEWER)
    if target.free is not None:
        return JSONResponse({"files": free_paths.listing(target.free, "")})
    start = len(target.path) + 1 if target.path else 0
    files = []
    for info in target.repository.list(target.run_id, target.path or None):
        entry = {"path": info.path[start:], "is_dir": info.is_dir}
        if not info.is_dir:
            entry["file_size"] = info.file_size
        files.append(entry)
    return JSONResponse({"files": files})


@router.get(PROXY + "/{path:path}")
def download_artifact(request: Request, path: str, caller: Caller = Depends(caller_of)) -> Response:
    """Return one artifact's bytes, after checking them against their digest."""
    target = _locate(request, caller, path, Role.VIEWER)
    if not target.inner:
        raise InvalidInput("name a file to download; list the folder with ?path=")
    name = target.inner.rsplit("/", 1)[-1]
    # The type comes from the name, never from the request (MLflow overrides `Accept` too).
    headers = {"Content-Type": free_paths.mime_type(name), **free_paths.download_headers(name)}
    if target.free is not None:
        if not target.free.is_file():
            raise NotFound(f"artifact {path!r:.80} does not exist")
        return FileResponse(target.free, headers=headers)
    data = target.repository.read_bytes(target.run_id, target.path)
    return Response(data, headers=headers)


@router.put(PROXY + "/{path:path}")
async def upload_artifact(
    request: Request, path: str, caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """Store the request body as one artifact file of the run (editors)."""
    from starlette.concurrency import run_in_threadpool

    target = await run_in_threadpool(_locate, request, caller, path, Role.EDITOR)
    if not target.inner:
        raise InvalidInput("name the artifact file to upload")
    folder, _, name = target.path.rpartition("/")
    with request.app.state.artifacts.uploads.spool() as tmp:
        local = Path(tmp) / name
        size = 0
        with open(local, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise InvalidInput(
                        f"artifact {target.inner!r} exceeds {MAX_UPLOAD_BYTES} bytes"
                    )
                out.write(chunk)
        if target.free is not None:
            await run_in_threadpool(free_paths.store_file, target.free, local)
        else:
            await run_in_threadpool(
                target.repository.log_file, target.run_id, local, folder or None
            )
    return JSONResponse({})


@router.get("/api/2.0/mlflow/artifacts/list")
def list_run_artifacts(
    request: Request, run_id: str = "", path: str = "", caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """List a run's files and folders directly under `path` (MLflow's ListArtifacts)."""
    run_id = run_of(caller, run_id or request.query_params.get("run_uuid", ""), Role.VIEWER)
    try:
        inner = validate_artifact_path(path.rstrip("/"), allow_empty=True)  # "/x" is absolute
    except InvalidInput:
        raise InvalidInput("Invalid path") from None
    run = request.app.state.artifacts.store.runs.get(run_id)
    root = f"{run.info.experiment_id}/{run_id}/artifacts"
    found = json.loads(list_artifacts(request, f"{root}/{inner}".rstrip("/"), caller).body)
    for entry in found["files"]:
        entry["path"] = f"{inner}/{entry['path']}".lstrip("/")
    return JSONResponse({"root_uri": f"mlflow-artifacts:/{root}", **found})
