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
