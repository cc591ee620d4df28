"""Reading snapshots back: the verified manifest, a table whole or in streamed batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import check_digest
from perennia.data.snapshots.blobio import read_blob
from perennia.data.snapshots.manifest import Chunk, Manifest, parse_manifest
from perennia.data.snapshots.tables import require_pyarrow, schema_from_text
from perennia.errors import IntegrityError, InvalidInput

TARGETS = ("pandas", "polars", "arrow")
READ_WORKERS = 8


def read_manifest(blobs: BlobStore, digest: str) -> Manifest:
    """Return the snapshot's manifest after checking its bytes hash to `digest` (NotFound if absent)."""
    return parse_manifest(read_blob(blobs, check_digest(digest)), digest)


def load_table(
    blobs: BlobStore, digest: str, *, to: str = "pandas", columns: Sequence[str] | None = None
) -> Any:
    """Return a table snapshot as a pandas or polars DataFrame or an Arrow Table (`to`)."""
    if to not in TARGETS:
        raise InvalidInput(f"to={to!r} is not accepted; use one of {list(TARGETS)}")
    manifest, schema, selected = _open_table(blobs, digest, columns)
    with ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix="perennia-read") as pool:
        parts = list(pool.map(lambda c: _read_chunk(blobs, c, selected), manifest.chunks))
    import pyarrow as pa

    empty = schema.empty_table() if selected is None else schema.empty_table().select(selected)
    table = pa.concat_tables(parts) if parts else empty
    if to == "arrow":
        return table
    if to == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table.to_pandas()


def iter_batches(
    blobs: BlobStore, digest: str, *, columns: Sequence[str] | None = None
) -> Iterator[Any]:
    """Return an iterator of a table snapshot's rows as Arrow record batches, one chunk in
    memory at a time; the manifest and `columns` are checked on the call, not on first use."""
    manifest, _, selected = _open_table(blobs, digest, columns)
    return _batches(blobs, manifest, selected)


def _batches(blobs: BlobStore, manifest: Manifest, selected: list[str] | None) -> Iterator[Any]:
    """Yield each chunk's record batches after checking the chunk's digest and row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for chunk in manifest.chunks:
        data = read_blob(blobs, chunk.blob)
        file = pq.ParquetFile(pa.BufferReader(data))
        if file.metadata.num_rows != chunk.rows:
            raise _wrong_rows(chunk, file.metadata.num_rows)
        yield from file.iter_batches(columns=selected)


def _open_table(
    blobs: BlobStore, digest: str, columns: Sequence[str] | None
) -> tuple[Manifest, Any, list[str] | None]:
    """Return a table snapshot's manifest, Arrow schema and checked column selection."""
    require_pyarrow()
    manifest = read_manifest(blobs, digest)
    if manifest.kind != "table":
        raise InvalidInput(
            f"snapshot {digest} holds files, not a table; use fetch_files to get its folder"
        )
    schema = schema_from_text(manifest.arrow_schema or "")
    if columns is None:
        return manifest, schema, None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput(f"columns {columns!r:.80} is not accepted; use a list of column names")
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise InvalidInput(
            f"column {missing[0]!r} is not in snapshot {digest}; its columns are {schema.names[:20]}"
        )
    return manifest, schema, list(columns)


def _read_chunk(blobs: BlobStore, chunk: Chunk, columns: list[str] | None) -> Any:
    """Return one verified chunk as an Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(read_blob(blobs, chunk.blob)), columns=columns)
    if table.num_rows != chunk.rows:
        raise _wrong_rows(chunk, table.num_rows)
    return table


def _wrong_rows(chunk: Chunk, rows: int) -> IntegrityError:
    """Return the error for a chunk whose row count differs from its manifest's."""
    return IntegrityError(f"chunk {chunk.blob} has {rows} rows; its manifest says {chunk.rows}")
