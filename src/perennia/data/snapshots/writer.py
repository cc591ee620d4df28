"""`write_snapshot`: store a table or a folder as a content-addressed snapshot."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import check_digest
from perennia.data.snapshots.blobio import upload_bytes
from perennia.data.snapshots.chunking import ChunkSizes
from perennia.data.snapshots.fetch import check_workers
from perennia.data.snapshots.files_writer import write_files
from perennia.data.snapshots.manifest import Manifest, canonical_bytes
from perennia.data.snapshots.packing import PACK_BYTES
from perennia.data.snapshots.reader import read_manifest
from perennia.data.snapshots.sources import classify
from perennia.data.snapshots.table_writer import write_table
from perennia.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored snapshot: its digest and kind, what it holds, and what storing it uploaded."""

    digest: str
    kind: str  # "table" or "files"
    row_count: int | None
    file_count: int  # files of a folder; Parquet chunks of a table
    size_bytes: int  # the files' total size; the chunks' total Parquet size for a table
    new_bytes: int  # bytes uploaded by this write (new blobs and the manifest)
    schema: list[dict[str, Any]]  # [{"name", "type"}] for tables, [] for files


def write_snapshot(
    blobs: BlobStore,
    source: Any,
    *,
    kind: str | None = None,
    previous: str | None = None,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: tuple[int, int, int] | None = None,
    pack_bytes: int = PACK_BYTES,
) -> Snapshot:
    """Return the snapshot of a table or folder after storing its new blobs and its manifest.

    `progress(done, total)` is called with rows written (total 0 until known, for CSV) or files
    hashed. `previous` (a snapshot digest, verified) lets a folder re-use its stored files; one
    of the other kind is ignored. `chunk_rows=(min, avg, max)` and `pack_bytes` tune sizes.
    """
    check_workers(workers)
    sizes = ChunkSizes.of(chunk_rows)
    if isinstance(pack_bytes, bool) or not isinstance(pack_bytes, int) or pack_bytes < 1:
        raise InvalidInput(f"pack_bytes={pack_bytes!r:.40} is not accepted; use an integer >= 1")
    resolved, prepared = classify(source, kind)
    prior = read_manifest(blobs, check_digest(previous)) if previous is not None else None
    if prior is not None and prior.kind != resolved:
        prior = None  # only a hint for re-use: a version that changed kind re-uses nothing
    if resolved == "table":
        manifest, sent = write_table(
            blobs, prepared, sizes=sizes, workers=workers, progress=progress
        )
    else:
        assert isinstance(prepared, Path)
        manifest, sent = write_files(
            blobs,
            prepared,
            previous=prior,
            workers=workers,
            pack_bytes=pack_bytes,
            progress=progress,
        )
    with tempfile.TemporaryDirectory(prefix="perennia-snapshot-") as scratch:
        digest, manifest_sent = upload_bytes(blobs, canonical_bytes(manifest), Path(scratch))
    return _snapshot(manifest, digest, sent + manifest_sent)


def _snapshot(manifest: Manifest, digest: str, new_bytes: int) -> Snapshot:
    """Return the Snapshot record of a stored manifest."""
    table = manifest.kind == "table"
    return Snapshot(
        digest=digest,
        kind=manifest.kind,
        row_count=manifest.row_count if table else None,
        file_count=len(manifest.chunks) if table else len(manifest.files),
        size_bytes=manifest.size_bytes,
        new_bytes=new_bytes,
        schema=manifest.schema if table else [],
    )
