"""Register and load dataset versions: `perennia.data.register(name, source)` and friends.

A registration snapshots the data into a content-addressed blob store (only what the store does
not already hold is written, see `perennia.data.snapshots`), then numbers the version in the
metadata store in one transaction. Loading checks every byte against its digest and, inside an
active run, records the read on the run, which is how lineage finds the runs (and through them
the models) built from a version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia.data import session
from perennia.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from perennia.entities import DatasetEvent, DatasetVersion
    from perennia.store.base import Store
    from perennia.tracking.client import Client

# What a run's dataset input records for a version, so lineage can find the version again.
SOURCE_TYPE = "perennia_dataset"


def _source_info(source: Any, query: str | None) -> tuple[Any, dict[str, Any]]:
    """Return (what to snapshot, the source record) for a registration's `source`."""
    from perennia.data import sources

    if query is not None:
        if not isinstance(source, str):
            raise InvalidInput(
                "with query=, source must be a database URI such as postgresql://..."
            )
        return sources.read_sql(source, query)
    return source, sources.describe_source(source)


def register(
    name: str,
    source: Any,
    *,
    query: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    kind: str | None = None,
    parents: Sequence[str] = (),
    derivation: Mapping[str, Any] | None = None,
    contract: Any = None,
    storage_uri: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetVersion:
    """Snapshot `source` as the next version of `name` and return it (`.ref` is `name@N`).

    `source` is a pandas/polars DataFrame or Arrow table, a Parquet/CSV file or folder, a folder
    of any files, an `s3://bucket/prefix`, or, with `query=`, a database URI the query runs on.
    `parents` ("name@version") are the versions this one was derived from; `contract` (a
    `Contract`) is stored with the version.
    """
    import tempfile

    from perennia.data.snapshots import write_snapshot
    from perennia.entities import DatasetVersion

    client = session.current_client()
    store = client.store
    storage = storage_uri or session.default_storage_uri(client)
    blobs = session.blob_store(storage)
    previous = _previous_digest(store, name, storage)
    with tempfile.TemporaryDirectory(prefix="perennia-data-") as scratch:
        if isinstance(source, str) and source.startswith("s3://") and query is None:
            from perennia.data.sources import read_s3_prefix

            data, record = read_s3_prefix(source, Path(scratch) / "s3")
        else:
            data, record = _source_info(source, query)
        snapshot = write_snapshot(blobs, data, kind=kind, previous=previous, progress=progress)
    draft = DatasetVersion(
        name=name,
        version=0,
        digest=snapshot.digest,
        storage_uri=storage,
        kind=snapshot.kind,
        row_count=snapshot.row_count,
        file_count=snapshot.file_count,
        size_bytes=snapshot.size_bytes,
        new_bytes=snapshot.new_bytes,
        schema=list(snapshot.schema),
        source=record,
        parents=[session.resolve(p, store).ref for p in parents],
        derivation=dict(derivation or {}),
        description=description,
        tags=dict(tags or {}),
        contract=None if contract is None else contract.to_dict(),
    )
    return store.datasets.create_version(draft, session.acting_user())


def _previous_digest(store: Store, name: str, storage: str) -> str | None:
    """Return the newest version's manifest digest when it lives in the same blob store."""
    try:
        latest = store.datasets.resolve(name, "latest")
    except NotFound:
        return None
    return latest.digest if latest.storage_uri == storage else None


def get(ref: str) -> DatasetVersion:
    """Return the version `ref` names (`name@3`, `name@golden`, `name@latest` or `name`)."""
    return session.resolve(ref)


def versions(name: str) -> list[DatasetVersion]:
    """Return every version of dataset `name`, newest first."""
    return session.current_store().datasets.versions(name)


def list_datasets() -> list[DatasetVersion]:
    """Return the latest version of every dataset, by name."""
    return session.current_store().datasets.list_datasets()


def history(name: str, limit: int = 100) -> list[DatasetEvent]:
    """Return the dataset's changes (registrations, tags, alias moves, contracts), newest first."""
    return session.current_store().datasets.events(name, limit)


def set_tag(ref: str | DatasetVersion, key: str, value: str) -> None:
    """Tag the version `ref` names."""
    store = session.current_store()
    version = session.resolve(ref, store)
    store.datasets.set_tag(version.name, version.version, key, value, session.acting_user())


def set_alias(ref: str | DatasetVersion, alias: str) -> None:
    """Point `name@alias` at the version `ref` names (e.g. `set_alias("train@3", "golden")`)."""
    store = session.current_store()
    version = session.resolve(ref, store)
    store.datasets.set_alias(version.name, alias, version.version, session.acting_user())


def delete_alias(name: str, alias: str) -> None:
    """Remove `name@alias`."""
    session.current_store().datasets.delete_alias(name, alias, session.acting_user())


def _record_read(
    client: Client, version: DatasetVersion, context: str | None, run_id: str | None
) -> None:
    """Log the version as an input of `run_id` (or of the active run, when there is one)."""
    from perennia.entities import Dataset, DatasetInput

    run_id = run_id or session.active_run_id()
    if run_id is None:
        return
    dataset = Dataset(
        name=version.name,
        digest=version.digest,
        source=version.ref,
        source_type=SOURCE_TYPE,
        schema=[dict(c) for c in version.schema],
        row_count=version.row_count if version.row_count is not None else version.file_count,
    )
    client.log_inputs(run_id, [DatasetInput(dataset, context)])


def load(
    ref: str | DatasetVersion,
    *,
    to: str = "pandas",
    columns: Sequence[str] | None = None,
    target: str | Path | None = None,
    context: str | None = "training",
    run_id: str | None = None,
) -> Any:
    """Return the version's data, every byte checked against its digest.

    A table comes back as `to` ("pandas", "polars" or "arrow"); a folder of files is written
    under `target` (a new temporary folder when None) and its path returned. Inside an active
    run (or with `run_id`) the read is recorded on the run with `context`.
    """
    client = session.current_client()
    version = session.resolve(ref, client.store)
    blobs = session.blob_store(version.storage_uri)
    if version.kind == "files" or to == "folder":
        from perennia.data.snapshots import fetch_files

        if target is None:
            import tempfile

            target = tempfile.mkdtemp(prefix=f"perennia-{version.name}-{version.version}-")
        result: Any = fetch_files(blobs, version.digest, target)
    else:
        from perennia.data.snapshots import load_table

        result = load_table(blobs, version.digest, to=to, columns=columns)
    _record_read(client, version, context, run_id)
    return result


def iter_batches(
    ref: str | DatasetVersion,
    *,
    columns: Sequence[str] | None = None,
    context: str | None = "training",
    run_id: str | None = None,
) -> Iterator[Any]:
    """Return an iterator of a table version's rows as Arrow record batches, one stored chunk
    in memory at a time. The reference, kind and columns are checked (and the read recorded)
    on the call, not on the first batch."""
    from perennia.data.snapshots import iter_batches as snapshot_batches

    client = session.current_client()
    version = session.resolve(ref, client.store)
    if version.kind != "table":
        raise InvalidInput(f"{version.ref} is a folder of files; load it with to='folder'")
    batches = snapshot_batches(
        session.blob_store(version.storage_uri), version.digest, columns=columns
    )
    _record_read(client, version, context, run_id)
    return batches
