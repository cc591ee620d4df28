"""Content-addressed snapshots of dataset versions, stored in a `BlobStore`.

A snapshot is a manifest blob (canonical JSON) whose sha256 is the snapshot's digest, plus the
data blobs it names:

- a table (pandas, polars or Arrow frame, a Parquet or CSV file, a folder of Parquet files) is
  stored as Parquet chunks cut at content-defined row boundaries, so a version that appends
  rows or edits one region shares every other chunk with its predecessor;
- any other folder is stored as files: small files packed into ~16 MiB pack blobs, big files as
  blobs of their own, and with `previous` every unchanged file re-uses its stored bytes.

Everything read back is verified: the manifest against the digest, each blob against its name,
each extracted file against its sha256 (`IntegrityError` on a mismatch, `NotFound` for a
missing blob). The pandas index is dropped when it is a RangeIndex and kept otherwise.
"""

from __future__ import annotations

from perennia.data.snapshots.diff import diff_manifests
from perennia.data.snapshots.fetch import fetch_files
from perennia.data.snapshots.manifest import Chunk, FileEntry, Manifest
from perennia.data.snapshots.reader import iter_batches, load_table, read_manifest
from perennia.data.snapshots.writer import Snapshot, write_snapshot

__all__ = [
    "Chunk",
    "FileEntry",
    "Manifest",
    "Snapshot",
    "diff_manifests",
    "fetch_files",
    "iter_batches",
    "load_table",
    "read_manifest",
    "write_snapshot",
]
