"""Where a dataset version came from and what was built from it; how two versions differ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia.data import session

if TYPE_CHECKING:
    from perennia.data.prepare.diff import FrameDiff
    from perennia.entities import DatasetVersion
    from perennia.store.base import Store

_MAX_DEPTH = 50  # ancestry deeper than this is cut (and said so), never looped


def _summary(version: DatasetVersion) -> dict[str, Any]:
    return {
        "ref": version.ref,
        "digest": version.digest,
        "kind": version.kind,
        "rows": version.row_count,
        "files": version.file_count,
        "source": version.source,
        "derivation": version.derivation,
    }


def ancestry(version: DatasetVersion, store: Store) -> list[dict[str, Any]]:
    """Return the versions `version` was derived from, nearest first, each once."""
    seen, out, frontier = {version.ref}, [], list(version.parents)
    for _ in range(_MAX_DEPTH):
        if not frontier:
            return out
        following = []
        for ref in frontier:
            if ref in seen:
                continue
            seen.add(ref)
            parent = session.resolve(ref, store)
            out.append(_summary(parent))
            following.extend(parent.parents)
        frontier = following
    out.append({"ref": "...", "note": f"ancestry cut at depth {_MAX_DEPTH}"})
    return out


def _models_of(store: Store, run_ids: list[str]) -> list[dict[str, Any]]:
    models = []
    for run_id in run_ids:
        token = None
        while True:
            page = store.versions.search_model_versions(None, run_id, 1000, token)
            models.extend(
                {"name": v.name, "version": v.version, "run_id": run_id} for v in page.items
            )
            token = page.next_page_token
            if token is None:
                break
    return models


def lineage(ref: str | DatasetVersion) -> dict[str, Any]:
    """Return the version's lineage both ways: sources and parents; derived versions, the
    runs that read it and the model versions those runs produced."""
    store = session.current_store()
    version = session.resolve(ref, store)
    readers = store.datasets.readers(version.name, version.version)
    run_ids = list(dict.fromkeys(run_id for run_id, _ in readers))
    return {
        "version": _summary(version),
        "parents": ancestry(version, store),
        "derived": [
            _summary(v) for v in store.datasets.derived_from(version.name, version.version)
        ],
        "runs": [{"run_id": r, "context": c} for r, c in readers],
        "models": _models_of(store, run_ids),
    }


def diff(
    a: str | DatasetVersion, b: str | DatasetVersion, *, key: Any = None
) -> FrameDiff | dict[str, Any]:
    """Return how version `b` differs from `a`: for tables a FrameDiff (schema, rows added and
    removed, per-column shift), for folders the files added, removed and changed."""
    from perennia.data.snapshots import diff_manifests, load_table, read_manifest

    store = session.current_store()
    first, second = session.resolve(a, store), session.resolve(b, store)
    blobs_a = session.blob_store(first.storage_uri)
    same = second.storage_uri == first.storage_uri
    blobs_b = blobs_a if same else session.blob_store(second.storage_uri)
    if first.kind == "files" or second.kind == "files":
        return diff_manifests(
            read_manifest(blobs_a, first.digest), read_manifest(blobs_b, second.digest)
        )
    from perennia.data.prepare.diff import diff_frames

    return diff_frames(
        load_table(blobs_a, first.digest), load_table(blobs_b, second.digest), key=key
    )
