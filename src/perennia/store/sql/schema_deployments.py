"""Deployments in the metadata schema (on `schema.metadata`, re-exported there; migration 0007).

A deployment's variants, canary policy, batching and previous variants are JSON text: they are
read and written whole with their row, never searched inside. What is searched (the name, the
model) and what makes a change compare-and-set (the revision) are plain columns. Each change's
registry event is linked to its deployment in `deployment_events`, so one deployment's
history is an indexed range instead of a scan of the JSON in the event log.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from perennia.store.limits import NAME_LENGTH
from perennia.store.sql.schema import metadata

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    # No foreign key on the model's name: a registry rename updates every table by name.
    Column("model_name", String(NAME_LENGTH), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("strategy", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=True),
    Column("variants", Text, nullable=False),  # JSON list of Variant.to_dict()
    Column("previous", Text, nullable=False),  # JSON list, empty when there is nothing to undo
    Column("policy", Text, nullable=True),  # JSON CanaryPolicy.to_dict(), or NULL
    Column("batching", Text, nullable=False),  # JSON BatchingConfig.to_dict()
    Column("sticky_header", String(128), nullable=True),
    Column("step", Integer, nullable=False),
    Column("step_started", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_deployments_model", "model_name"),
)

deployment_events = Table(
    "deployment_events",
    metadata,
    # The registry event's id (no foreign key: the event log is append-only and never purged).
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("action", String(64), nullable=False),
    Index("ix_deployment_events_name", "name", "event_id"),
)
