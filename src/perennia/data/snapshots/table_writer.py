"""Writing a table snapshot: content-defined chunks, encoded and uploaded by a pool of threads."""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from perennia.artifacts.base import BlobStore
from perennia.data.snapshots.blobio import upload_bytes
from perennia.data.snapshots.chunking import Chunker, ChunkSizes
from perennia.data.snapshots.manifest import Chunk, Manifest
from perennia.data.snapshots.tables import (
    TableStream,
    encode_chunk,
    schema_columns,
    schema_to_text,
)


def write_table(
    blobs: BlobStore,
    stream: TableStream,
    *,
    sizes: ChunkSizes,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[Manifest, int]:
    """Store a table's chunks; return its manifest (not yet stored) and the bytes uploaded."""
    chunker = Chunker(stream.schema, sizes)
    chunks: list[Chunk] = []
    uploaded = 0
    rows_done = 0
    # Bounded in flight: at most 2 x workers encoded chunks wait in memory at once.
    in_flight: deque[Future[tuple[Chunk, int]]] = deque()

    def collect(limit: int) -> None:
        nonlocal uploaded, rows_done
        while len(in_flight) > limit:
            chunk, sent = in_flight.popleft().result()
            chunks.append(chunk)
            uploaded += sent
            rows_done += chunk.rows
            if progress is not None:
                progress(rows_done, max(stream.total_rows, rows_done))

    with (
        tempfile.TemporaryDirectory(prefix="perennia-snapshot-") as scratch,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="perennia-chunk") as pool,
    ):
        for batch in stream.batches:
            for table in chunker.feed(batch):
                in_flight.append(pool.submit(_store_chunk, blobs, table, Path(scratch)))
                collect(2 * workers)
        for table in chunker.finish():
            in_flight.append(pool.submit(_store_chunk, blobs, table, Path(scratch)))
        collect(0)
    manifest = Manifest(
        kind="table",
        size_bytes=sum(c.bytes for c in chunks),
        row_count=sum(c.rows for c in chunks),
        schema=schema_columns(stream.schema),
        arrow_schema=schema_to_text(stream.schema),
        chunks=tuple(chunks),
    )
    return manifest, uploaded


def _store_chunk(blobs: BlobStore, table: Any, scratch: Path) -> tuple[Chunk, int]:
    """Encode one chunk as Parquet and store it; return its manifest entry and the bytes uploaded."""
    data = encode_chunk(table)
    digest, sent = upload_bytes(blobs, data, scratch)
    return Chunk(blob=digest, rows=table.num_rows, bytes=len(data)), sent
