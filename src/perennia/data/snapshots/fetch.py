"""Writing a snapshot out as a folder: its files (verified), or a table's Parquet chunks.

Every file is written under a temporary name in a staging folder inside the target and renamed
into place only after its sha256 checked out, so the final name never holds a partial or
unverified file. Existing files the snapshot names are replaced; other files are left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import CHUNK
from perennia.data.snapshots.blobio import read_blob, read_blob_to_file
from perennia.data.snapshots.manifest import FileEntry, Manifest
from perennia.data.snapshots.packing import SMALL_FILE
from perennia.data.snapshots.reader import read_manifest
from perennia.errors import IntegrityError, InvalidArtifactPath, InvalidInput


def check_workers(workers: object) -> int:
    """Return `workers` if it is an int >= 1, else raise InvalidInput."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInput(f"workers={workers!r:.40} is not accepted; use an integer >= 1")
    return workers


def fetch_files(blobs: BlobStore, digest: str, target: str | Path, *, workers: int = 8) -> Path:
    """Write the snapshot's files (or a table's part-00000.parquet, ...) under `target`; return it."""
    check_workers(workers)
    manifest = read_manifest(blobs, digest)
    root = Path(target).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    staging = Path(tempfile.mkdtemp(prefix=".perennia-fetch-", dir=root))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="perennia-fetch") as pool:
            if manifest.kind == "table":
                _fetch_chunks(blobs, manifest, root, staging, pool)
            else:
                _fetch_folder(blobs, manifest, root, staging, pool)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _fetch_chunks(
    blobs: BlobStore, manifest: Manifest, root: Path, staging: Path, pool: ThreadPoolExecutor
) -> None:
    """Write each chunk blob of a table as part-NNNNN.parquet."""

    def fetch(index: int) -> None:
        temp = staging / f"part-{index}"
        read_blob_to_file(blobs, manifest.chunks[index].blob, temp)
        os.replace(temp, root / f"part-{index:05d}.parquet")

    list(pool.map(fetch, range(len(manifest.chunks))))


def _fetch_folder(
    blobs: BlobStore, manifest: Manifest, root: Path, staging: Path, pool: ThreadPoolExecutor
) -> None:
    """Recreate a files snapshot's folder, one task per blob."""
    destinations = _destinations(root, manifest.files)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, entry in enumerate(manifest.files):
        groups[entry.blob].append(index)

    def fetch(blob: str) -> None:
        entries = [(i, manifest.files[i]) for i in groups[blob]]
        if any(entry.length >= SMALL_FILE for _, entry in entries):
            _from_blob_file(blobs, blob, entries, destinations, staging)
        else:
            data = read_blob(blobs, blob)
            for index, entry in entries:
                _place(
                    data[entry.offset : entry.offset + entry.length],
                    entry,
                    destinations[index],
                    staging / f"f{index}",
                )

    list(pool.map(fetch, groups))


def _destinations(root: Path, files: tuple[FileEntry, ...]) -> list[str]:
    """Return each file's final path, creating its folders and refusing any that leave `root`."""
    # Paths were checked when the manifest was parsed; strings, not Path objects, because
    # pathlib's per-object cost shows at 100,000 files.
    folders: dict[str, str] = {}
    out = []
    for entry in files:
        folder, _, name = entry.path.rpartition("/")
        real = folders.get(folder)
        if real is None:
            path = root.joinpath(*folder.split("/")) if folder else root
            path.mkdir(parents=True, exist_ok=True)
            # A folder already in the target may be a symlink: where it resolves is what counts.
            resolved = path.resolve()
            if resolved != root and root not in resolved.parents:
                raise InvalidArtifactPath(
                    f"snapshot path {entry.path!r:.100} resolves outside {root}; remove the symlink"
                    " on its way"
                )
            real = folders[folder] = str(resolved)
        out.append(os.path.join(real, name))
    return out


def _place(data: bytes, entry: FileEntry, destination: str, temp: str) -> None:
    """Write one file's verified bytes under a temp name, then rename it into place."""
    if len(data) != entry.length or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise IntegrityError(
            f"file {entry.path!r} from blob {entry.blob} does not match its sha256 {entry.sha256}"
        )
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(temp, destination)


def _from_blob_file(
    blobs: BlobStore,
    blob: str,
    entries: list[tuple[int, FileEntry]],
    destinations: list[str],
    staging: Path,
) -> None:
    """Fetch a big blob to disk (verified) and cut its files out of it without loading it whole."""
    whole = staging / f"blob-{blob}"
    read_blob_to_file(blobs, blob, whole)
    size = whole.stat().st_size
    for index, entry in entries:
        if entry.offset + entry.length > size:
            raise IntegrityError(f"file {entry.path!r} lies beyond the end of blob {blob}")
        temp = staging / f"f{index}"
        digest = hashlib.sha256()
        with open(whole, "rb") as src, open(temp, "wb") as out:
            src.seek(entry.offset)
            left = entry.length
            while left:
                block = src.read(min(CHUNK, left))
                if not block:
                    break  # cannot happen after the size check, unless the blob shrank
                digest.update(block)
                out.write(block)
                left -= len(block)
        if digest.hexdigest() != entry.sha256:
            temp.unlink(missing_ok=True)
            raise IntegrityError(
                f"file {entry.path!r} from blob {blob} does not match its sha256 {entry.sha256}"
            )
        os.replace(temp, destinations[index])
    whole.unlink(missing_ok=True)
