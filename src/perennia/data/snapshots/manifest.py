"""A snapshot's manifest: its shapes, its canonical JSON bytes, and the checks a parsed one passes.

The manifest is canonical JSON (sorted keys, no whitespace, UTF-8, integers and strings only),
so the same content always gives the same bytes and therefore the same digest. Layout:

    table: {"format", "version", "kind": "table", "size_bytes", "row_count",
            "schema": {"arrow": base64 Arrow IPC schema, "columns": [{"name", "type"}]},
            "chunks": [{"blob", "rows", "bytes"}]}
    files: {"format", "version", "kind": "files", "size_bytes", "blobs": [digest, ...],
            "files": {"path": [...], "size": [...], "sha256": [...], "blob": [index into
            blobs, ...], "offset": [...]}}

A file's bytes are blobs[blob][offset : offset + size]: small files share pack blobs, a big
file is a blob of its own (whose digest is its sha256). `FileEntry.length` equals its size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from perennia.artifacts.digests import check_digest, sha256_bytes
from perennia.data.snapshots.paths import check_path_set, check_relative_path
from perennia.errors import IntegrityError, InvalidInput

FORMAT = "perennia.snapshot"
VERSION = 1
KINDS = ("table", "files")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One Parquet blob of a table: its digest, rows and size in bytes."""

    blob: str
    rows: int
    bytes: int


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a folder: its path, size and sha256, and the byte range of a blob holding it."""

    path: str
    size: int
    sha256: str
    blob: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a snapshot holds; `digest` is the sha256 of its canonical JSON ("" before storing)."""

    kind: str
    size_bytes: int
    row_count: int | None = None
    schema: list[dict[str, Any]] = field(default_factory=list)
    arrow_schema: str | None = None  # base64 of the Arrow IPC schema (tables only)
    chunks: tuple[Chunk, ...] = ()
    files: tuple[FileEntry, ...] = ()
    digest: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as the JSON object that is stored."""
        body: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "size_bytes": self.size_bytes,
        }
        if self.kind == "table":
            body["row_count"] = self.row_count
            body["schema"] = {"arrow": self.arrow_schema, "columns": self.schema}
            body["chunks"] = [
                {"blob": c.blob, "rows": c.rows, "bytes": c.bytes} for c in self.chunks
            ]
        else:
            # Columns, not one object per file: a folder of 100,000 files gives a manifest about
            # half the size, parsed faster, and each pack's digest is written once, not per file.
            # A file's length is its size (files are never split), so it is not repeated.
            blobs = list(dict.fromkeys(f.blob for f in self.files))
            index = {blob: i for i, blob in enumerate(blobs)}
            body["blobs"] = blobs
            body["files"] = {
                "path": [f.path for f in self.files],
                "size": [f.size for f in self.files],
                "sha256": [f.sha256 for f in self.files],
                "blob": [index[f.blob] for f in self.files],
                "offset": [f.offset for f in self.files],
            }
        return body


def canonical_bytes(manifest: Manifest) -> bytes:
    """Return the manifest's canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        manifest.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def parse_manifest(data: bytes, digest: str) -> Manifest:
    """Return the manifest stored as `data`, after checking it hashes to `digest` and is well formed."""
    actual = sha256_bytes(data)
    if actual != digest:
        raise IntegrityError(
            f"snapshot manifest {digest} does not match its digest (its bytes hash to {actual})"
        )
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(f"blob {digest} is not a snapshot manifest (not UTF-8 JSON)") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise InvalidInput(f"blob {digest} is not a snapshot manifest (format is not {FORMAT!r})")
    if body.get("version") != VERSION:
        raise InvalidInput(
            f"snapshot {digest} has format version {body.get('version')!r}; this Perennia reads {VERSION}"
        )
    kind = body.get("kind")
    if kind == "table":
        return _parse_table(body, digest)
    if kind == "files":
        return _parse_files(body, digest)
    raise InvalidInput(f"snapshot {digest} has kind {kind!r}; expected one of {list(KINDS)}")


def _count(value: Any, name: str) -> int:
    """Return `value` if it is a non-negative int (not a bool), else raise InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"snapshot field {name} is {value!r:.60}; expected an integer >= 0")
    return value


def _records(body: dict[str, Any], key: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return body[key] if it is a list of objects with exactly `fields`, else raise InvalidInput."""
    items = body.get(key)
    if not isinstance(items, list):
        raise InvalidInput(f"snapshot field {key} is {type(items).__name__}; expected a list")
    expected = set(fields)
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.keys() != expected:
            raise InvalidInput(
                f"snapshot {key}[{index}] must be an object with fields {list(fields)}"
            )
    return items


def _parse_table(body: dict[str, Any], digest: str) -> Manifest:
    """Return a table manifest from its JSON object."""
    schema = body.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("arrow"), str):
        raise InvalidInput(f"snapshot {digest} has no Arrow schema (schema.arrow)")
    columns = schema.get("columns")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("type"), str)
        for c in columns
    ):
        raise InvalidInput(f"snapshot {digest} schema.columns must be a list of {{name, type}}")
    chunks = tuple(
        Chunk(
            check_digest(c["blob"]),
            _count(c["rows"], f"chunks[{i}].rows"),
            _count(c["bytes"], f"chunks[{i}].bytes"),
        )
        for i, c in enumerate(_records(body, "chunks", ("blob", "rows", "bytes")))
    )
    row_count = _count(body.get("row_count"), "row_count")
    if sum(c.rows for c in chunks) != row_count:
        raise InvalidInput(
            f"snapshot {digest} row_count {row_count} is not the sum of its chunks' rows"
        )
    return Manifest(
        kind="table",
        size_bytes=_count(body.get("size_bytes"), "size_bytes"),
        row_count=row_count,
        schema=columns,
        arrow_schema=schema["arrow"],
        chunks=chunks,
        digest=digest,
    )


def _parse_files(body: dict[str, Any], digest: str) -> Manifest:
    """Return a files manifest from its JSON object, refusing unsafe or inconsistent entries."""
    blobs = body.get("blobs")
    if not isinstance(blobs, list):
        raise InvalidInput(f"snapshot {digest} field blobs must be a list of digests")
    blobs = [check_digest(blob) for blob in blobs]
    columns = body.get("files")
    names = ("path", "size", "sha256", "blob", "offset")
    if not isinstance(columns, dict) or sorted(columns) != sorted(names):
        raise InvalidInput(
            f"snapshot {digest} field files must be an object of lists {list(names)}"
        )
    lists = [columns[name] for name in names]
    if not all(isinstance(column, list) and len(column) == len(lists[0]) for column in lists):
        raise InvalidInput(f"snapshot {digest} files columns must be lists of one length")
    files = []
    for i, (path, size, sha, blob, offset) in enumerate(zip(*lists, strict=True)):
        if isinstance(blob, bool) or not isinstance(blob, int) or not 0 <= blob < len(blobs):
            raise InvalidInput(
                f"snapshot files.blob[{i}] is {blob!r:.40}; expected an index into blobs"
            )
        size = _count(size, f"files.size[{i}]")
        files.append(
            FileEntry(
                check_relative_path(path),
                size,
                check_digest(sha),
                blobs[blob],
                _count(offset, f"files.offset[{i}]"),
                size,
            )
        )
    check_path_set([f.path for f in files])
    return Manifest(
        kind="files",
        size_bytes=_count(body.get("size_bytes"), "size_bytes"),
        files=tuple(files),
        digest=digest,
    )
