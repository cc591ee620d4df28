"""Blob reads that verify every byte against the blob's digest, and uploads that skip stored blobs."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import HashingWriter, sha256_bytes
from perennia.errors import IntegrityError


def _mismatch(blobs: BlobStore, digest: str, actual: str) -> IntegrityError:
    """Return the error for a blob whose bytes hash to `actual` instead of `digest`."""
    return IntegrityError(
        f"blob {digest} in {blobs.uri} does not match its digest (its bytes hash to {actual});"
        " it was changed or damaged after it was stored"
    )


def read_blob(blobs: BlobStore, digest: str) -> bytes:
    """Return a blob's bytes after checking they hash to `digest` (IntegrityError, NotFound)."""
    buffer = io.BytesIO()
    sink = HashingWriter(buffer)
    blobs.read_into(digest, sink)  # type: ignore[arg-type]
    actual = sink.hexdigest()
    if actual != digest:
        raise _mismatch(blobs, digest, actual)
    return buffer.getvalue()


def read_blob_to_file(blobs: BlobStore, digest: str, path: Path) -> None:
    """Stream a blob into `path`, checking its digest; the file is removed if the check fails."""
    try:
        with open(path, "wb") as out:
            sink = HashingWriter(out)
            blobs.read_into(digest, sink)  # type: ignore[arg-type]
        actual = sink.hexdigest()
        if actual != digest:
            raise _mismatch(blobs, digest, actual)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def upload(blobs: BlobStore, digest: str, path: Path) -> int:
    """Store the file at `path` under `digest` unless the store has it; return the bytes uploaded."""
    if blobs.exists(digest):
        return 0
    blobs.put_file(digest, path)
    return os.path.getsize(path)


def upload_bytes(blobs: BlobStore, data: bytes, scratch: Path) -> tuple[str, int]:
    """Store `data` as a blob (through a file in `scratch`); return (digest, bytes uploaded)."""
    digest = sha256_bytes(data)
    if blobs.exists(digest):
        return digest, 0
    path = scratch / f"{digest}.{uuid.uuid4().hex}"  # two chunks may be equal
    path.write_bytes(data)
    try:
        blobs.put_file(digest, path)
    finally:
        path.unlink(missing_ok=True)
    return digest, len(data)
