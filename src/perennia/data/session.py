"""What every dataset SDK call shares: the store it acts on, where blobs go, who acts, which run.

The store is the one `set_tracking_uri()` chose (shared with the fluent API and `Client`);
dataset blobs go to `<artifacts URI>/datasets`, a blob store of their own, so the artifact
collector (`perennia gc`), which sweeps the artifact locations' blobs, never sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.artifacts.base import BlobStore
    from perennia.entities import DatasetVersion
    from perennia.store.base import Store
    from perennia.tracking.client import Client

DATASETS_FOLDER = "datasets"


def current_client() -> Client:
    """Return the `Client` of the current tracking URI (a call that does several steps takes it once)."""
    from perennia.tracking.client import Client

    return Client()


def current_store() -> Store:
    """Return the store of the current tracking URI."""
    return current_client().store


def default_storage_uri(client: Client | None = None) -> str:
    """Return where new dataset versions' blobs go: `<artifacts URI>/datasets` (of `client`'s settings)."""
    base = (client or current_client()).settings.resolved_artifacts_uri().rstrip("/")
    return f"{base}/{DATASETS_FOLDER}"


def blob_store(uri: str) -> BlobStore:
    """Return the blob store at `uri` (a folder, file:// or s3:// URI)."""
    from perennia.artifacts import open_blob_store

    return open_blob_store(uri)


def acting_user(override: str | None = None) -> str | None:
    """Return who acts: `override` when given, else the current user's login name."""
    from perennia.tracking.source import current_user

    return override or current_user()


def active_run_id() -> str | None:
    """Return the id of this thread's innermost active run, or None."""
    from perennia.tracking import fluent

    run = fluent.active_run()
    return None if run is None else run.info.run_id


def split_ref(ref: str) -> tuple[str, str]:
    """Return (name, version reference) from `name@3`, `name@alias`, `name@latest` or `name`."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"dataset reference {ref!r} must be a string like 'train@3'")
    name, _, version = ref.partition("@")
    if not name or (_ and not version):
        raise InvalidInput(
            f"dataset reference {ref!r} is not 'name', 'name@<version>' or 'name@<alias>'"
        )
    return name, version or "latest"


def resolve(ref: str | DatasetVersion, store: Store | None = None) -> DatasetVersion:
    """Return the stored version `ref` names (a DatasetVersion is returned as it is)."""
    from perennia.entities import DatasetVersion

    if isinstance(ref, DatasetVersion):
        return ref
    name, version = split_ref(ref)
    return (store or current_store()).datasets.resolve(name, version)
