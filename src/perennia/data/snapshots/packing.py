"""Where a folder's new bytes go: small files packed together into pack blobs, big files alone.

A pack is the plain concatenation of its members; the manifest records each file's offset and
length in it. Packs keep the blob count (and so the per-blob cost: an fsync locally, a request
on S3) small for folders of many small files. A big file's blob is the file itself, so its
digest is the file's sha256 and a copy of it anywhere is stored once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import CHUNK
from perennia.data.snapshots.blobio import upload
from perennia.data.snapshots.scan import ScannedFile
from perennia.errors import Conflict

SMALL_FILE = 1 << 20  # files under this size are packed
PACK_BYTES = 16 << 20  # a pack is closed once it reaches about this size


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a file's bytes live: a blob and a byte range in it."""

    blob: str
    offset: int
    length: int


def plan_packs(files: list[ScannedFile], pack_bytes: int = PACK_BYTES) -> list[list[ScannedFile]]:
    """Return the small files grouped into packs of about `pack_bytes`, keeping their order."""
    packs: list[list[ScannedFile]] = []
    current: list[ScannedFile] = []
    filled = 0
    for item in files:
        if current and filled + item.size > pack_bytes:
            packs.append(current)
            current, filled = [], 0
        current.append(item)
        filled += item.size
    if current:
        packs.append(current)
    return packs


def _changed(item: ScannedFile) -> Conflict:
    """Return the error for a file whose bytes changed after it was hashed."""
    return Conflict(
        f"file {item.path!r} changed while the snapshot was being written; write it again once"
        " the folder is no longer being modified"
    )


def store_pack(
    blobs: BlobStore, members: list[ScannedFile], scratch: Path
) -> tuple[dict[str, Placement], int]:
    """Build and store one pack; return each member's placement (by sha256) and the bytes uploaded."""
    path = scratch / f"pack-{uuid.uuid4().hex}"
    pack_hash = hashlib.sha256()
    offsets: dict[str, tuple[int, int]] = {}
    offset = 0
    try:
        with open(path, "wb") as out:
            for item in members:
                with open(item.source, "rb") as handle:
                    data = handle.read()
                # Re-check while packing: the blob must hold exactly the bytes that were hashed.
                if len(data) != item.size or hashlib.sha256(data).hexdigest() != item.sha256:
                    raise _changed(item)
                out.write(data)
                pack_hash.update(data)
                offsets[item.sha256] = (offset, len(data))
                offset += len(data)
        digest = pack_hash.hexdigest()
        sent = upload(blobs, digest, path)
    finally:
        path.unlink(missing_ok=True)
    return {sha: Placement(digest, start, length) for sha, (start, length) in offsets.items()}, sent


def store_big(
    blobs: BlobStore, item: ScannedFile, scratch: Path
) -> tuple[dict[str, Placement], int]:
    """Store a big file as its own blob; return its placement (by sha256) and the bytes uploaded."""
    placement = {item.sha256: Placement(item.sha256, 0, item.size)}
    if blobs.exists(item.sha256):
        return placement, 0
    # Copy first and hash the copy: uploading the live file could store bytes that no longer
    # match the digest if it is being written to.
    path = scratch / f"big-{uuid.uuid4().hex}"
    try:
        digest = hashlib.sha256()
        with open(item.source, "rb") as src, open(path, "wb") as out:
            while block := src.read(CHUNK):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != item.sha256:
            raise _changed(item)
        sent = upload(blobs, item.sha256, path)
    finally:
        path.unlink(missing_ok=True)
    return placement, sent
