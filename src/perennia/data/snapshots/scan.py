"""Walking a folder for a files snapshot, and hashing every file once on a pool of threads.

Symlinks are never followed out of the folder: one whose target lies outside it is refused.
A symlink to a file inside the folder is stored as a copy of that file (same bytes, so packs
store them once); symlinked folders are not descended (that could loop), and dangling links,
FIFOs, sockets and devices are skipped with a warning: none has bytes a snapshot could restore.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from perennia.artifacts.digests import CHUNK
from perennia.data.snapshots.paths import check_relative_path
from perennia.errors import InvalidInput

logger = logging.getLogger(__name__)

HASH_GROUP = 256  # files per task: one future per file would cost more than hashing a small one


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A file found in the folder: its snapshot path, where to read it, its size and sha256."""

    path: str
    source: str
    size: int
    sha256: str


def walk(root: Path) -> list[tuple[str, str]]:
    """Return (relative path, absolute path) for every regular file under `root`, sorted by path."""
    root_real = os.path.realpath(root)
    found: list[tuple[str, str]] = []
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_symlink():
                    _follow_link(entry.path, relative, root_real, found)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, relative + "/"))
                elif entry.is_file(follow_symlinks=False):
                    found.append((check_relative_path(relative), entry.path))
                else:
                    logger.warning("skipping %s: not a regular file or folder", entry.path)
    found.sort()
    return found


def _follow_link(path: str, relative: str, root_real: str, found: list[tuple[str, str]]) -> None:
    """Add a symlink to a file inside the root as that file; refuse one pointing outside it."""
    target = os.path.realpath(path)
    if os.path.commonpath([root_real, target]) != root_real:
        raise InvalidInput(
            f"symlink {relative!r} points outside the folder (to {target!r}); replace it with the"
            " file itself or remove it"
        )
    if os.path.isfile(target):
        found.append((check_relative_path(relative), path))
    else:
        logger.warning("skipping symlink %s: it is dangling or names a folder", path)


def hash_files(
    files: list[tuple[str, str]],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScannedFile]:
    """Return every file with its size and sha256, hashed once on `workers` threads, in input order."""
    groups = [files[i : i + HASH_GROUP] for i in range(0, len(files), HASH_GROUP)]
    scanned: list[ScannedFile] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="perennia-hash") as pool:
        for group in pool.map(_hash_group, groups):
            scanned.extend(group)
            if progress is not None:
                progress(len(scanned), len(files))
    return scanned


def _hash_group(group: list[tuple[str, str]]) -> list[ScannedFile]:
    """Return the scanned form of a group of files."""
    out = []
    for relative, source in group:
        digest, size = sha256_path(source)
        out.append(ScannedFile(relative, source, size, digest))
    return out


def sha256_path(path: str) -> tuple[str, int]:
    """Return the sha256 hex digest and size of the file at `path`."""
    # One read for a small file: hashlib.file_digest allocates a 256 KiB buffer per call, which
    # costs more than the hashing for a folder of 100,000 small files.
    with open(path, "rb") as handle:
        data = handle.read(CHUNK)
        digest = hashlib.sha256(data)
        size = len(data)
        while len(data) == CHUNK:
            data = handle.read(CHUNK)
            digest.update(data)
            size += len(data)
    return digest.hexdigest(), size
