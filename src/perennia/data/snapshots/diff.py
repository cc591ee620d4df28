"""What changed between two snapshots' manifests."""

from __future__ import annotations

from perennia.data.snapshots.manifest import Manifest
from perennia.errors import InvalidInput


def diff_manifests(a: Manifest, b: Manifest) -> dict[str, list[str]]:
    """Return what changed from `a` to `b`: paths for folders, chunks and columns for tables."""
    if a.kind != b.kind:
        raise InvalidInput(f"cannot diff a {a.kind} snapshot with a {b.kind} snapshot")
    if a.kind == "files":
        old = {f.path: f.sha256 for f in a.files}
        new = {f.path: f.sha256 for f in b.files}
        return {
            "added": sorted(new.keys() - old.keys()),
            "removed": sorted(old.keys() - new.keys()),
            "changed": sorted(p for p in old.keys() & new.keys() if old[p] != new[p]),
        }
    old_types = {c["name"]: c["type"] for c in a.schema}
    new_types = {c["name"]: c["type"] for c in b.schema}
    old_chunks = [c.blob for c in a.chunks]
    new_chunks = [c.blob for c in b.chunks]
    old_set, new_set = set(old_chunks), set(new_chunks)
    return {
        "added_columns": [n for n in new_types if n not in old_types],
        "removed_columns": [n for n in old_types if n not in new_types],
        "changed_columns": [
            n for n in new_types if n in old_types and old_types[n] != new_types[n]
        ],
        "added_chunks": [d for d in new_chunks if d not in old_set],
        "removed_chunks": [d for d in old_chunks if d not in new_set],
    }
