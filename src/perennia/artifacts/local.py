"""Blobs in a local folder: `<root>/blobs/ab/abcdef...`, written to a temp file then renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from perennia.artifacts.digests import CHUNK, check_digest
from perennia.errors import NotFound


def _file_mode() -> int:
    """Return the mode a plain new file gets under this process's umask."""
    # mkstemp creates files 0600; blobs and downloads should get the usual mode instead, so a
    # team sharing an artifact folder can read each other's blobs. The umask can only be read by
    # setting it, so that happens once, at import.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


class LocalBlobStore:
    """The `BlobStore` protocol on a local (or mounted) directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        self._blobs = self.root / "blobs"

    def _path(self, digest: str) -> Path:
        check_digest(digest)
        return self._blobs / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        """Return True if a blob with this digest is stored."""
        return self._path(digest).is_file()

    def put_file(self, digest: str, source: Path) -> None:
        """Store the file's bytes under `digest` atomically (no-op if already stored)."""
        target = self._path(digest)
        if target.is_file():
            # Refresh the time so garbage collection's grace period protects a blob being re-logged.
            os.utime(target)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # A rename within one directory is atomic: readers see the whole blob or none of it.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_into(self, digest: str, target: BinaryIO) -> None:
        """Copy the blob's bytes into `target`; NotFound if it is missing."""
        try:
            with open(self._path(digest), "rb") as src:
                shutil.copyfileobj(src, target, CHUNK)
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from {self.uri}") from None

    def delete(self, digest: str) -> None:
        """Remove a blob (no error if it is already gone)."""
        self._path(digest).unlink(missing_ok=True)

    def digests(self, older_than: float | None = None) -> Iterator[str]:
        """Yield the digest of every stored blob (only those last written before `older_than`, epoch seconds)."""
        if not self._blobs.is_dir():
            return
        for shard in sorted(self._blobs.iterdir()):
            if shard.is_dir() and len(shard.name) == 2:
                for blob in sorted(shard.iterdir()):
                    if blob.name.startswith(".tmp-"):
                        continue
                    if older_than is None or blob.stat().st_mtime < older_than:
                        yield shard.name + blob.name
