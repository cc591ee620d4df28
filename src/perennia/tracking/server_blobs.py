"""Blobs kept by a `perennia server`, reached over HTTP: what a remote SDK's artifacts use.

Blobs are addressed per run (`/api/v1/runs/<run>/blobs/<sha256>`), so the server stores them
where that run's experiment keeps its artifacts and checks the caller's role on the run. The
server recomputes the sha256 of every upload and refuses bytes that do not match.

It rides on the REST store's HTTP session (and its error mapping), so it lives in tracking,
above both the store and the blob stores, rather than in `perennia.artifacts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from perennia.artifacts.digests import CHUNK, check_digest
from perennia.errors import NotFound
from perennia.store.rest.http import error_from_response


class ServerBlobStore:
    """The `BlobStore` protocol for one run's blobs, on the server behind an HTTP session."""

    def __init__(self, http: Any, run_id: str) -> None:
        self.http = http
        self.run_id = run_id
        self.uri = f"{http.base_url}/api/v1/runs/{run_id}/blobs"

    def _path(self, digest: str) -> str:
        return f"/api/v1/runs/{self.run_id}/blobs/{check_digest(digest)}"

    def exists(self, digest: str) -> bool:
        """Return True if the server holds a blob with this digest for the run."""
        try:
            self.http.send("HEAD", self._path(digest))
        except NotFound:
            return False
        return True

    def put_file(self, digest: str, source: Path) -> None:
        """Upload the file's bytes, streamed; the server verifies them against `digest`."""
        if self.exists(digest):
            return

        def body() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        self.http.send("PUT", self._path(digest), content=body)

    def read_into(self, digest: str, target: BinaryIO) -> None:
        """Copy the blob's bytes into `target` (the repository verifies them as they pass)."""
        with self.http.client.stream("GET", self._path(digest)) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            for chunk in response.iter_bytes(CHUNK):
                target.write(chunk)

    def delete(self, digest: str) -> None:
        """Refuse: blobs on a server are deleted by the server's own garbage collection."""
        raise NotImplementedError("blobs on a server are collected by `perennia gc` there")

    def digests(self, older_than: float | None = None) -> Iterator[str]:
        """Yield nothing: a client never sweeps the server's blobs."""
        return iter(())
