"""The blob store interface: immutable byte blobs addressed by their sha256 digest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    """Where artifact bytes live; the metadata store's manifest says which digest each path holds."""

    uri: str

    def exists(self, digest: str) -> bool:
        """Return True if a blob with this digest is stored."""
        ...

    def put_file(self, digest: str, source: Path) -> None:
        """Store the file's bytes under `digest` atomically (no-op if already stored)."""
        ...

    def read_into(self, digest: str, target: BinaryIO) -> None:
        """Copy the blob's bytes into `target`; NotFound if it is missing."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob (no error if it is already gone)."""
        ...

    def digests(self, older_than: float | None = None) -> Iterator[str]:
        """Yield the digest of every stored blob (only those last written before `older_than`, epoch seconds)."""
        ...
