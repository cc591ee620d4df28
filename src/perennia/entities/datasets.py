"""The dataset-version entities: a named, numbered, content-addressed snapshot of data.

A version's bytes live in a blob store as a snapshot (a manifest blob naming the packed files or
row groups it holds, see `perennia.data.snapshots`); the metadata store keeps what the version
is: its manifest digest, where the blobs are, its shape, where the data came from, what it was
derived from, and its tags, aliases and validation contract. Versions of a name are numbered
1, 2, 3 ... atomically, so concurrent registrations get distinct numbers without gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A table is stored as Parquet row groups; a folder of arbitrary files as packed files.
DATASET_KINDS = ("table", "files")


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One registered version of a named dataset (`name@version`)."""

    name: str
    version: int  # 0 in a draft handed to `store.datasets.create_version`
    digest: str  # sha256 of the snapshot's manifest: the version's content address
    storage_uri: str  # the blob store holding the manifest and its blobs
    kind: str  # one of DATASET_KINDS
    row_count: int | None = None  # tables only
    file_count: int = 0  # files in a folder, or row groups in a table
    size_bytes: int = 0  # logical size of the data
    new_bytes: int = 0  # bytes this registration stored that the blob store did not have
    schema: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "type"}], tables
    source: dict[str, Any] = field(default_factory=dict)  # {"type": "sql"|"file"|..., ...}
    parents: list[str] = field(default_factory=list)  # "name@version" it was derived from
    derivation: dict[str, Any] = field(default_factory=dict)  # the rule (split seed, join keys)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    contract: dict[str, Any] | None = None  # the validation contract, as Contract.to_dict()
    created_at: int = 0
    created_by: str | None = None

    @property
    def ref(self) -> str:
        """Return the version's reference, `name@version`."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class DatasetEvent:
    """One change to a dataset: a registration, a tag, an alias move, a contract attached."""

    event_id: int
    time: int
    username: str | None
    action: str  # "register", "set_tag", "delete_tag", "set_alias", "delete_alias", "set_contract"
    name: str
    version: int | None
    detail: dict[str, Any] = field(default_factory=dict)
