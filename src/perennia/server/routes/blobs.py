"""/api/v1/runs/{run_id}/blobs/{sha256}: artifact bytes, streamed in and out, checked by digest.

A blob is reached through a run the caller may read (or write, to upload), and only when the
caller uploaded it or some run they may read holds it: knowing a digest gives nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from perennia.artifacts.digests import CHUNK, check_digest
from perennia.entities import Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.access import Caller, caller_of

router = APIRouter(prefix="/api/v1/runs/{run_id}/blobs", tags=["artifacts"])
MAX_BLOB_BYTES = 5 * 1024**3


def _blobs(request: Request, run_id: str):
    return request.app.state.artifacts.for_run(run_id).blobs


@router.head("/{digest}")
def blob_exists(
    request: Request, run_id: str, digest: str, caller: Caller = Depends(caller_of)
) -> Response:
    """Answer 200 when the run's blob store holds this blob and the caller may use it, else 404.

    A blob the caller may not use answers 404 too, so the answer tells nothing about others'
    files; the client then uploads the bytes, which proves it holds them.
    """
    run_id = caller.run(run_id, Role.VIEWER)
    digest = check_digest(digest)
    if not _usable(caller, digest) or not _blobs(request, run_id).exists(digest):
        raise NotFound(f"blob {digest} is not stored")
    return Response(status_code=200)


def _usable(caller: Caller, digest: str) -> bool:
    from perennia.errors import PermissionDenied

    try:
        caller.blob(digest)
    except PermissionDenied:
        return False
    return True


@router.get("/{digest}")
def read_blob(
    request: Request, run_id: str, digest: str, caller: Caller = Depends(caller_of)
) -> StreamingResponse:
    """Stream a blob's bytes (the client checks them against the run's manifest)."""
    run_id = caller.run(run_id, Role.VIEWER)
    if not _usable(caller, check_digest(digest)):
        raise NotFound(f"blob {digest} is not stored")
    blobs = _blobs(request, run_id)
    # Closed by the generator below once the response is sent.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    blobs.read_into(check_digest(digest), spool)
    spool.seek(0)

    def chunks():
        with spool:
            while chunk := spool.read(CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@router.put("/{digest}")
async def write_blob(
    request: Request, run_id: str, digest: str, caller: Caller = Depends(caller_of)
) -> JSONResponse:
    """Store the streamed body as a blob (editors of the run), refusing bytes whose sha256 is
    not `digest`; the uploader may name the blob in manifests from then on."""
    check_digest(digest)
    run_id = await run_in_threadpool(caller.run, run_id, Role.EDITOR)
    blobs = await run_in_threadpool(_blobs, request, run_id)
    hasher, size = hashlib.sha256(), 0
    with request.app.state.artifacts.uploads.spool() as tmp:
        target = Path(tmp) / "blob"
        with open(target, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BLOB_BYTES:
                    raise InvalidInput(f"blob exceeds {MAX_BLOB_BYTES} bytes")
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise InvalidInput(
                f"uploaded bytes have sha256 {hasher.hexdigest()}, not {digest}; nothing stored"
            )
        await run_in_threadpool(blobs.put_file, digest, target)
    if caller.username is not None:
        await run_in_threadpool(
            request.app.state.store.access.record_upload, digest, caller.username
        )
    return JSONResponse({"digest": digest, "size": size})
