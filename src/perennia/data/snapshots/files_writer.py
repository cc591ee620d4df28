"""Writing a files snapshot: hash once, re-use what the previous version stored, pack the rest."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from perennia.artifacts.base import BlobStore
from perennia.data.snapshots.manifest import FileEntry, Manifest
from perennia.data.snapshots.packing import (
    SMALL_FILE,
    Placement,
    plan_packs,
    store_big,
    store_pack,
)
from perennia.data.snapshots.scan import ScannedFile, hash_files, walk


def write_files(
    blobs: BlobStore,
    root: Path,
    *,
    previous: Manifest | None,
    workers: int,
    pack_bytes: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[Manifest, int]:
    """Store a folder's new bytes; return its manifest (not yet stored) and the bytes uploaded."""
    scanned = hash_files(walk(root), workers, progress)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="perennia-pack") as pool:
        placements = _reusable(blobs, scanned, previous, pool)
        new = _unique_new(scanned, placements)
        small = [item for item in new if item.size < SMALL_FILE]
        big = [item for item in new if item.size >= SMALL_FILE]
        uploaded = 0
        with tempfile.TemporaryDirectory(prefix="perennia-snapshot-") as scratch:
            futures = [
                pool.submit(store_pack, blobs, p, Path(scratch))
                for p in plan_packs(small, pack_bytes)
            ]
            futures += [pool.submit(store_big, blobs, item, Path(scratch)) for item in big]
            for future in futures:
                stored, sent = future.result()
                placements.update(stored)
                uploaded += sent
    entries = tuple(_entry(item, placements[item.sha256]) for item in scanned)
    manifest = Manifest(kind="files", size_bytes=sum(item.size for item in scanned), files=entries)
    return manifest, uploaded


def _reusable(
    blobs: BlobStore,
    scanned: list[ScannedFile],
    previous: Manifest | None,
    pool: ThreadPoolExecutor,
) -> dict[str, Placement]:
    """Return the placements the previous version already stored for contents found again."""
    if previous is None:
        return {}
    wanted = {item.sha256 for item in scanned}
    known = {
        f.sha256: Placement(f.blob, f.offset, f.length)
        for f in previous.files
        if f.sha256 in wanted
    }
    # A blob of the previous version may have been collected since; its files are stored anew.
    needed = sorted({place.blob for place in known.values()})
    present = {blob for blob, ok in zip(needed, pool.map(blobs.exists, needed), strict=True) if ok}
    return {sha: place for sha, place in known.items() if place.blob in present}


def _unique_new(scanned: list[ScannedFile], placements: dict[str, Placement]) -> list[ScannedFile]:
    """Return one file per content not yet placed, in path order (so packs are deterministic)."""
    seen = set(placements)
    new = []
    for item in scanned:
        if item.sha256 not in seen:
            seen.add(item.sha256)
            new.append(item)
    return new


def _entry(item: ScannedFile, place: Placement) -> FileEntry:
    """Return the manifest entry of a file stored at `place`."""
    return FileEntry(item.path, item.size, item.sha256, place.blob, place.offset, place.length)
