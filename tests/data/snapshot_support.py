"""Helpers shared by the snapshot tests (no tests here): stores, frames, folders, hand-made manifests."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from perennia.artifacts.local import LocalBlobStore

SMALL_CHUNKS = (64, 512, 2048)  # (min, avg, max) rows: many chunks from a few thousand rows


def blob_path(blobs: LocalBlobStore, digest: str) -> Path:
    """Return where a LocalBlobStore keeps a blob on disk."""
    return blobs.root / "blobs" / digest[:2] / digest[2:]


def flip_byte(path: Path, offset: int = -1) -> None:
    """Overwrite one byte of a file with a different value."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def put_json(blobs: LocalBlobStore, body: dict, scratch: Path) -> str:
    """Store `body` as canonical JSON and return its digest (a hand-made manifest)."""
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return put_bytes(blobs, data, scratch)


def put_bytes(blobs: LocalBlobStore, data: bytes, scratch: Path) -> str:
    """Store raw bytes as a blob and return the digest."""
    digest = hashlib.sha256(data).hexdigest()
    path = scratch / f"put-{digest}"
    path.write_bytes(data)
    blobs.put_file(digest, path)
    return digest


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create `files` (relative path -> bytes) under root and return root."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    """Return every regular file under root as relative path -> bytes (the oracle for fetches)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".perennia-fetch-")
    }
