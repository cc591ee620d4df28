"""sha256 digests of files and streams, computed in large chunks."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from perennia.errors import InvalidInput

CHUNK = 1 << 20
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the sha256 hex digest and size of a file."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def sha256_bytes(data: bytes) -> str:
    """Return the sha256 hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: object) -> str:
    """Return `digest` if it is 64 lowercase hex characters, else raise InvalidInput."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise InvalidInput(f"{digest!r:.80} is not a sha256 hex digest")
    return digest


class HashingWriter:
    """A write-only stream that hashes and counts what passes through it on its way to `target`."""

    def __init__(self, target) -> None:  # noqa: ANN001 - any object with write(bytes)
        self.target = target
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Hash, count and forward `data`; return what the target wrote."""
        self.hasher.update(data)
        self.size += len(data)
        return self.target.write(data)

    def seekable(self) -> bool:
        """Return False, so a writer such as boto3's download writes in order, never seeking."""
        return False

    def hexdigest(self) -> str:
        """Return the sha256 hex digest of everything written so far."""
        return self.hasher.hexdigest()
