"""/api/v1/runs/{run_id}/blobs/{sha256}: artifact bytes, streamed in and out, checked by digest."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from perennia.artifacts.digests import CHUNK, check_digest
from perennia.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1/runs/{run_id}/blobs", tags=["artifacts"])
MAX_BLOB_BYTES = 5 * 1024**3


def _blobs(request: Request, run_id: str):
    return request.app.state.artifacts.for_run(run_id).blobs


@router.head("/{digest}")
def blob_exists(request: Request, run_id: str, digest: str) -> Response:
    """Answer 200 when the run's blob store holds this blob, else 404."""
    if not _blobs(request, run_id).exists(check_digest(digest)):
        raise NotFound(f"blob {digest} is not stored")
    return Response(status_code=200)


@router.get("/{digest}")
def read_blob(request: Request, run_id: str, digest: str) -> StreamingResponse:
    """Stream a blob's bytes (the client checks them against the run's manifest)."""
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
async def write_blob(request: Request, run_id: str, digest: str) -> JSONResponse:
    """Store the streamed body as a blob, refusing bytes whose sha256 is not `digest`."""
    check_digest(digest)
    blobs = await run_in_threadpool(_blobs, request, run_id)
    hasher, size = hashlib.sha256(), 0
    with tempfile.TemporaryDirectory(prefix="perennia-blob-") as tmp:
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
    return JSONResponse({"digest": digest, "size": size})
