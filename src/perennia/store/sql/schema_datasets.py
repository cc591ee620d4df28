"""Dataset versions in the metadata schema (on `schema.metadata`, re-exported there; migration 0008).

A version's schema, source, derivation and contract are JSON text, read and written whole with
their row. What is searched is a plain column: the name and number (the key), the digest (which
runs read a version: `run_inputs.dataset_digest`), a parent (what was derived from a version).
`dataset_names` holds each name's newest number; bumping it is what numbers a registration
(the older `datasets` table is the run inputs' descriptors, so the counter has its own name).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from perennia.store.limits import KEY_LENGTH, NAME_LENGTH
from perennia.store.sql.schema import metadata

dataset_names = Table(
    "dataset_names",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    # Incremented with INSERT ... ON CONFLICT DO UPDATE ... RETURNING: the row lock it takes
    # makes concurrent registrations of one name wait, then take the next number.
    Column("latest_version", Integer, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("storage_uri", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("row_count", BigInteger, nullable=True),
    Column("file_count", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("new_bytes", BigInteger, nullable=False),
    Column("schema", Text, nullable=False),  # JSON list of {"name", "type"}
    Column("source", Text, nullable=False),  # JSON object
    Column("derivation", Text, nullable=False),  # JSON object
    Column("description", Text, nullable=False),
    Column("contract", Text, nullable=True),  # JSON Contract.to_dict(), or NULL
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    PrimaryKeyConstraint("name", "version", name="dataset_versions_pk"),
    Index("ix_dataset_versions_digest", "digest"),
)

dataset_parents = Table(
    "dataset_parents",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("parent_name", String(NAME_LENGTH), nullable=False),
    Column("parent_version", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # the order the draft listed its parents in
    PrimaryKeyConstraint(
        "name", "version", "parent_name", "parent_version", name="dataset_parents_pk"
    ),
    Index("ix_dataset_parents_parent", "parent_name", "parent_version"),
)

dataset_tags = Table(
    "dataset_tags",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "key", name="dataset_tags_pk"),
)

dataset_aliases = Table(
    "dataset_aliases",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", "alias", name="dataset_aliases_pk"),
)

dataset_events = Table(
    "dataset_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("username", String(NAME_LENGTH), nullable=True),
    Column("action", String(32), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_dataset_events_name", "name", "event_id"),
    sqlite_autoincrement=True,
)
